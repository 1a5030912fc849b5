# Stand-in for the custom node that the real ComfyUI checkout ships (and so always imports at startup).
class SaveImageWebsocket:
    CATEGORY = "api node/image"
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}}

    def save_images(self, images):
        return {}


NODE_CLASS_MAPPINGS = {"SaveImageWebsocket": SaveImageWebsocket}
