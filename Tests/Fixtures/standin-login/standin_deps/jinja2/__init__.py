# stand-in for Jinja2: the names ComfyUI-Login imports
class Environment:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class FileSystemLoader:
    def __init__(self, path):
        self.path = path


def select_autoescape(*args, **kwargs):
    return True
