# stand-in for aiohttp_session: the names ComfyUI-Login imports
def setup(app, storage):
    pass


def get_session(request):
    return {}
