# Stand-in for ComfyUI v0.8.0's app/user_manager.py: per-user files under <user directory>/<user>/ (user
# "default" unless --multi-user and a `comfy-user` header), on the stand-in server's plain-function API.
# The rules it keeps (real file:line in app/user_manager.py):
#   - at start-up the user directory is created, with two warnings when it did not exist (no --multi-user) (:36-53);
#   - {file} is one URL segment, matched as aiohttp does (everything decoded but %2F and %25, then %2F -> "/",
#     %25 -> "%"; server.py does that); a value that still holds "%" is unquoted once more (:88-90); a path that
#     leaves <user directory>/<user> is refused (403); the parent folders are created before anything else,
#     even for GET and DELETE (:92-100);
#   - empty -> 400, outside -> 403, missing (GET, DELETE, move's source) -> 404, all with an empty body (:319-331);
#   - GET /userdata/{file}: the file (a folder: 403, as aiohttp's FileResponse) (:333-339);
#   - POST /userdata/{file}: the raw body written as is; ?overwrite=false and the file exists -> 409; an OSError
#     -> 400 with the "Invalid filename" reason; 200 JSON: the path relative to the user folder, or with
#     ?full_info=true {path, size, modified, created} (:341-395);
#   - DELETE /userdata/{file}: 204 (:397-405);
#   - POST /userdata/{file}/move/{dest}: 404 without the source, 409 with ?overwrite=false and an existing dest,
#     logs "moving 'SRC' -> 'DEST'", 200 JSON as POST (:407-456);
#   - GET /userdata?dir= (:149-211), GET /v2/userdata?path= (:213-317), GET/POST /users (:125-147).
# An unknown user (multi-user) raises KeyError in the /userdata/{file} routes, which the real ones do not catch: 500.
# There is no access check here: in the real server the only guard is ComfyUI-Login's middleware.
import glob
import json
import logging
import os
import re
import shutil
import uuid
from urllib import parse

import folder_paths
from comfy.cli_args import args

default_user = "default"


def get_file_info(path, relative_to):
    return {
        "path": os.path.relpath(path, relative_to).replace(os.sep, "/"),
        "size": os.path.getsize(path),
        "modified": os.path.getmtime(path),
        "created": os.path.getctime(path),
    }


class UserManager:
    def __init__(self):
        user_directory = folder_paths.get_user_directory()
        if not os.path.exists(user_directory):
            os.makedirs(user_directory, exist_ok=True)
            if not args.multi_user:
                logging.warning("****** User settings have been changed to be stored on the server instead of "
                                "browser storage. ******")
                logging.warning("****** For multi-user setups add the --multi-user CLI argument to enable "
                                "multiple user profiles. ******")
        if args.multi_user:
            users_file = self.get_users_file()
            if os.path.isfile(users_file):
                with open(users_file) as f:
                    self.users = json.load(f)
            else:
                self.users = {}
        else:
            self.users = {default_user: default_user}

    def get_users_file(self):
        return os.path.join(folder_paths.get_user_directory(), "users.json")

    def get_request_user_id(self, request):
        user = default_user
        if args.multi_user and request.headers.get("comfy-user") is not None:
            user = request.headers.get("comfy-user")
            if user.startswith(folder_paths.SYSTEM_USER_PREFIX):
                raise KeyError("Unknown user: " + user)
        if user not in self.users:
            raise KeyError("Unknown user: " + user)
        return user

    def get_request_user_filepath(self, request, file, create_dir=True):
        """Absolute path of `file` in the request's user folder (the folder itself for None), or None when the
        path would leave it."""
        root_dir = folder_paths.get_user_directory()
        user_root = folder_paths.get_public_user_directory(self.get_request_user_id(request))
        if user_root is None:
            return None
        if os.path.commonpath((root_dir, user_root)) != root_dir:
            return None
        path = user_root
        if file is not None:
            if "%" in file:
                file = parse.unquote(file)
            path = os.path.abspath(os.path.join(user_root, file))
            if os.path.commonpath((user_root, path)) != user_root:
                return None
        parent = os.path.split(path)[0]
        if create_dir and not os.path.exists(parent):
            os.makedirs(parent, exist_ok=True)
        return path

    def add_user(self, name):
        name = name.strip()
        if not name:
            raise ValueError("username not provided")
        if name.startswith(folder_paths.SYSTEM_USER_PREFIX):
            raise ValueError("System User prefix not allowed")
        user_id = re.sub("[^a-zA-Z0-9-_]+", "-", name)
        if user_id.startswith(folder_paths.SYSTEM_USER_PREFIX):
            raise ValueError("System User prefix not allowed")
        user_id = f"{user_id}_{uuid.uuid4()}"
        self.users[user_id] = name
        with open(self.get_users_file(), "w") as f:
            json.dump(self.users, f)
        return user_id

    def add_routes(self, routes):
        import server  # the stand-in server module (imported here: server.py imports this file)

        Response, json_response, FileResponse = server.Response, server.json_response, server.FileResponse

        @routes.get("/users")
        def get_users(request):
            if args.multi_user:
                return json_response({"storage": "server", "users": self.users})
            user_dir = self.get_request_user_filepath(request, None, create_dir=False)
            return json_response({"storage": "server", "migrated": os.path.exists(user_dir)})

        @routes.post("/users")
        def post_users(request):
            username = request.json()["username"]
            if username in self.users.values():
                return json_response({"error": "Duplicate username."}, status=400)
            try:
                user_id = self.add_user(username)
            except ValueError as e:
                return json_response({"error": str(e)}, status=400)
            return json_response(user_id)

        @routes.get("/userdata")
        def list_userdata(request):
            directory = request.query.get("dir", "")
            if not directory:
                return Response(status=400, text="Directory not provided")
            path = self.get_request_user_filepath(request, directory)
            if not path:
                return Response(status=403, text="Invalid directory")
            if not os.path.exists(path):
                return Response(status=404, text="Directory not found")
            recurse = request.query.get("recurse", "").lower() == "true"
            full_info = request.query.get("full_info", "").lower() == "true"
            split_path = request.query.get("split", "").lower() == "true"
            pattern = os.path.join(glob.escape(path), "**", "*") if recurse else os.path.join(glob.escape(path), "*")
            results = []
            for full_path in glob.glob(pattern, recursive=recurse):
                if not os.path.isfile(full_path):
                    continue
                if full_info:
                    results.append(get_file_info(full_path, path))
                    continue
                rel_path = os.path.relpath(full_path, path).replace(os.sep, "/")
                results.append([rel_path] + rel_path.split("/") if split_path else rel_path)
            return json_response(results)

        @routes.get("/v2/userdata")
        def list_userdata_v2(request):
            requested = parse.unquote(request.query.get("path", ""))
            try:
                base_user_path = self.get_request_user_filepath(request, None, create_dir=False)
                target = (self.get_request_user_filepath(request, requested, create_dir=False) if requested
                          else base_user_path)
            except KeyError as e:
                logging.warning(f"Access denied for user: {e}")
                return Response(status=403, text="Invalid user specified in request")
            if not target:
                return Response(status=400, text="Invalid path requested")
            if not os.path.exists(target):
                if target == base_user_path:
                    return json_response([])
                return Response(status=404, text="Requested path not found")
            if not os.path.isdir(target):
                return Response(status=400, text="Requested path is not a directory")
            results = []
            try:
                for root, dirs, files in os.walk(target, topdown=True):
                    for d in dirs:
                        rel = os.path.relpath(os.path.join(root, d), base_user_path).replace(os.sep, "/")
                        results.append({"name": d, "path": rel, "type": "directory"})
                    for f in files:
                        full = os.path.join(root, f)
                        entry = {"name": f, "path": os.path.relpath(full, base_user_path).replace(os.sep, "/"),
                                 "type": "file"}
                        try:
                            st = os.stat(full)
                            entry["size"], entry["modified"] = st.st_size, st.st_mtime
                        except OSError as e:
                            logging.warning(f"Could not stat file {full}: {e}")
                        results.append(entry)
            except OSError as e:
                logging.error(f"Error listing directory {target}: {e}")
                return Response(status=500, text="Error reading directory contents")
            results.sort(key=lambda x: (x["type"] != "directory", x["name"].lower()))
            return json_response(results)

        def user_data_path(request, check_exists=False, param="file"):
            """The path, or the Response that refuses it."""
            file = request.match_info.get(param)
            if not file:
                return Response(status=400)
            path = self.get_request_user_filepath(request, file)
            if not path:
                return Response(status=403)
            if check_exists and not os.path.exists(path):
                return Response(status=404)
            return path

        def answer(request, path):
            user_path = self.get_request_user_filepath(request, None)
            if request.query.get("full_info", "false").lower() == "true":
                return json_response(get_file_info(path, user_path))
            return json_response(os.path.relpath(path, user_path))

        @routes.get("/userdata/{file}")
        def get_userdata(request):
            path = user_data_path(request, check_exists=True)
            if not isinstance(path, str):
                return path
            return FileResponse(path)

        @routes.post("/userdata/{file}")
        def post_userdata(request):
            path = user_data_path(request)
            if not isinstance(path, str):
                return path
            overwrite = request.query.get("overwrite", "true") != "false"
            if not overwrite and os.path.exists(path):
                return Response(status=409, text="File already exists")
            try:
                with open(path, "wb") as f:
                    f.write(request.body)
            except OSError as e:
                logging.warning(f"Error saving file '{path}': {e}")
                response = Response(status=400)
                response.reason = "Invalid filename. Please avoid special characters like :\\/*?\"<>|"
                return response
            return answer(request, path)

        @routes.delete("/userdata/{file}")
        def delete_userdata(request):
            path = user_data_path(request, check_exists=True)
            if not isinstance(path, str):
                return path
            os.remove(path)  # a folder: IsADirectoryError, 500 as in the real one
            return Response(status=204)

        @routes.post("/userdata/{file}/move/{dest}")
        def move_userdata(request):
            source = user_data_path(request, check_exists=True)
            if not isinstance(source, str):
                return source
            dest = user_data_path(request, param="dest")
            if not isinstance(dest, str):
                return dest
            overwrite = request.query.get("overwrite", "true") != "false"
            if not overwrite and os.path.exists(dest):
                return Response(status=409, text="File already exists")
            logging.info(f"moving '{source}' -> '{dest}'")
            shutil.move(source, dest)
            return answer(request, dest)
