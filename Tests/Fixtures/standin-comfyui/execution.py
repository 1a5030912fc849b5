# Stand-in for ComfyUI v0.8.0's execution.py: prompt validation (validate_prompt / validate_inputs), the
# PromptQueue and the executor, with the real answers and websocket messages (docs/comfyui-api.md quotes
# the real lines). No cache: a prompt sent twice runs twice (the real one answers from its cache).
import copy
import heapq
import logging
import sys
import threading
import time
import traceback

import nodes

SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
MAXIMUM_HISTORY_SIZE = 10000


class InterruptProcessingException(Exception):
    pass


def full_type_name(klass):
    module = klass.__module__
    if module == "builtins":
        return klass.__qualname__
    return module + "." + klass.__qualname__


def format_value(x):
    if x is None or isinstance(x, (int, float, bool, str)):
        return x
    return str(x)


def _input_info(class_inputs, name):
    for category in ("required", "optional"):
        if name in class_inputs.get(category, {}):
            spec = class_inputs[category][name]
            return spec[0], category, (spec[1] if len(spec) > 1 else {})
    return None, None, None


def validate_inputs(prompt, unique_id, validated):
    if unique_id in validated:
        return validated[unique_id]
    inputs = prompt[unique_id]["inputs"]
    obj_class = nodes.NODE_CLASS_MAPPINGS[prompt[unique_id]["class_type"]]
    class_inputs = obj_class.INPUT_TYPES()
    errors = []
    valid = True
    names = list(class_inputs.get("required", {})) + list(class_inputs.get("optional", {}))
    for x in names:
        input_type, category, extra_info = _input_info(class_inputs, x)
        info = (input_type, extra_info)
        if x not in inputs:
            if category == "required":
                errors.append({"type": "required_input_missing", "message": "Required input is missing",
                               "details": f"{x}", "extra_info": {"input_name": x}})
            continue
        val = inputs[x]
        if isinstance(val, list):
            if len(val) != 2:
                errors.append({"type": "bad_linked_input",
                               "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                               "details": f"{x}", "extra_info": {"input_name": x, "input_config": info,
                                                                 "received_value": val}})
                continue
            o_id = val[0]
            received_type = nodes.NODE_CLASS_MAPPINGS[prompt[o_id]["class_type"]].RETURN_TYPES[val[1]]
            if not (received_type == input_type or "*" in (received_type, input_type)):
                errors.append({"type": "return_type_mismatch",
                               "message": "Return type mismatch between linked nodes",
                               "details": f"{x}, received_type({received_type}) mismatch input_type({input_type})",
                               "extra_info": {"input_name": x, "input_config": info,
                                              "received_type": received_type, "linked_node": val}})
                continue
            if validate_inputs(prompt, o_id, validated)[0] is False:
                valid = False
            continue
        try:
            if input_type == "INT":
                val = int(val)
            elif input_type == "FLOAT":
                val = float(val)
            elif input_type == "STRING":
                val = str(val)
            elif input_type == "BOOLEAN":
                val = bool(val)
            inputs[x] = val
        except Exception as ex:
            errors.append({"type": "invalid_input_type",
                           "message": f"Failed to convert an input value to a {input_type} value",
                           "details": f"{x}, {val}, {ex}",
                           "extra_info": {"input_name": x, "input_config": info, "received_value": val,
                                          "exception_message": str(ex)}})
            continue
        if "min" in extra_info and val < extra_info["min"]:
            errors.append({"type": "value_smaller_than_min",
                           "message": "Value {} smaller than min of {}".format(val, extra_info["min"]),
                           "details": f"{x}", "extra_info": {"input_name": x, "input_config": info,
                                                             "received_value": val}})
            continue
        if "max" in extra_info and val > extra_info["max"]:
            errors.append({"type": "value_bigger_than_max",
                           "message": "Value {} bigger than max of {}".format(val, extra_info["max"]),
                           "details": f"{x}", "extra_info": {"input_name": x, "input_config": info,
                                                             "received_value": val}})
            continue
        if isinstance(input_type, list) and val not in input_type:
            input_config = info
            if len(input_type) > 20:
                list_info, input_config = f"(list of length {len(input_type)})", None
            else:
                list_info = str(input_type)
            errors.append({"type": "value_not_in_list", "message": "Value not in list",
                           "details": f"{x}: '{val}' not in {list_info}",
                           "extra_info": {"input_name": x, "input_config": input_config, "received_value": val}})
    ret = (False, errors, unique_id) if errors or valid is not True else (True, [], unique_id)
    validated[unique_id] = ret
    return ret


def validate_prompt(prompt_id, prompt, partial_execution_list=None):
    """(valid, error, outputs, node_errors) as the real one; a prompt that is not a dict raises (-> 500)."""
    outputs = set()
    for x in prompt:
        if "class_type" not in prompt[x]:
            return (False, {"type": "invalid_prompt",
                            "message": "Cannot execute because a node is missing the class_type property.",
                            "details": f"Node ID '#{x}'", "extra_info": {}}, [], {})
        class_type = prompt[x]["class_type"]
        class_ = nodes.NODE_CLASS_MAPPINGS.get(class_type, None)
        if class_ is None:
            return (False, {"type": "invalid_prompt",
                            "message": f"Cannot execute because node {class_type} does not exist.",
                            "details": f"Node ID '#{x}'", "extra_info": {}}, [], {})
        if getattr(class_, "OUTPUT_NODE", False) is True:
            if partial_execution_list is None or x in partial_execution_list:
                outputs.add(x)
    if len(outputs) == 0:
        return (False, {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                        "extra_info": {}}, [], {})
    good_outputs, errors, node_errors, validated = set(), [], {}, {}
    for o in sorted(outputs):
        try:
            valid, reasons, _ = validate_inputs(prompt, o, validated)
        except Exception as ex:
            typ, _, tb = sys.exc_info()
            valid = False
            reasons = [{"type": "exception_during_validation", "message": "Exception when validating node",
                        "details": str(ex), "extra_info": {"exception_type": full_type_name(typ),
                                                           "traceback": traceback.format_tb(tb)}}]
            validated[o] = (False, reasons, o)
        if valid is True:
            good_outputs.add(o)
            continue
        logging.error(f"Failed to validate prompt for output {o}:")
        errors.append((o, reasons))
        for node_id, result in validated.items():
            if result[0] is not True and len(result[1]) > 0:
                if node_id not in node_errors:
                    node_errors[node_id] = {"errors": result[1], "dependent_outputs": [],
                                            "class_type": prompt[node_id]["class_type"]}
                    for reason in result[1]:
                        logging.error(f"  - {reason['message']}: {reason['details']}")
                node_errors[node_id]["dependent_outputs"].append(o)
        logging.error("Output will be ignored")
    if len(good_outputs) == 0:
        lines = [f"{e['message']}: {e['details']}" for _, reasons in errors for e in reasons]
        return (False, {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                        "details": "\n".join(lines), "extra_info": {}}, [], node_errors)
    return (True, None, list(good_outputs), node_errors)


class PromptQueue:
    def __init__(self, server):
        self.server = server
        self.mutex = threading.RLock()
        self.not_empty = threading.Condition(self.mutex)
        self.task_counter = 0
        self.queue = []
        self.currently_running = {}
        self.history = {}

    def put(self, item):
        with self.mutex:
            heapq.heappush(self.queue, item)
            self.server.queue_updated()
            self.not_empty.notify()

    def get(self, timeout=None):
        with self.not_empty:
            while len(self.queue) == 0:
                self.not_empty.wait(timeout=timeout)
                if timeout is not None and len(self.queue) == 0:
                    return None
            item = heapq.heappop(self.queue)
            i = self.task_counter
            self.currently_running[i] = copy.deepcopy(item)
            self.task_counter += 1
            self.server.queue_updated()
            return (item, i)

    def task_done(self, item_id, history_result, status):
        with self.mutex:
            prompt = self.currently_running.pop(item_id)
            if len(self.history) > MAXIMUM_HISTORY_SIZE:
                self.history.pop(next(iter(self.history)))
            prompt = prompt[:5] + prompt[6:]
            self.history[prompt[1]] = {"prompt": prompt, "outputs": {}, "status": status}
            self.history[prompt[1]].update(history_result)
            self.server.queue_updated()

    def get_current_queue_volatile(self):
        with self.mutex:
            return [x for x in self.currently_running.values()], copy.copy(self.queue)

    def get_tasks_remaining(self):
        with self.mutex:
            return len(self.queue) + len(self.currently_running)

    def wipe_queue(self):
        with self.mutex:
            self.queue = []
            self.server.queue_updated()

    def delete_queue_item(self, function):
        with self.mutex:
            for x in range(len(self.queue)):
                if function(self.queue[x]):
                    if len(self.queue) == 1:
                        self.wipe_queue()
                    else:
                        self.queue.pop(x)
                        heapq.heapify(self.queue)
                    self.server.queue_updated()
                    return True
        return False

    def get_history(self, prompt_id=None, max_items=None, offset=-1):
        with self.mutex:
            if prompt_id is None:
                out, i = {}, 0
                if offset < 0 and max_items is not None:
                    offset = len(self.history) - max_items
                for k in self.history:
                    if i >= offset:
                        out[k] = self.history[k]
                        if max_items is not None and len(out) >= max_items:
                            break
                    i += 1
                return copy.deepcopy(out)
            if prompt_id in self.history:
                return {prompt_id: copy.deepcopy(self.history[prompt_id])}
            return {}

    def wipe_history(self):
        with self.mutex:
            self.history = {}

    def delete_history_item(self, id_to_delete):
        with self.mutex:
            self.history.pop(id_to_delete, None)


class PromptExecutor:
    def __init__(self, server):
        self.server = server
        self.status_messages = []
        self.success = True
        self.history_result = {}
        # The output cache (comfy_execution/caching.py, the default "classic" one): outputs by each
        # node's input signature; after a prompt it holds only that prompt's nodes (clean_unused).
        self.outputs_cache = {}

    def _signature(self, prompt, node_id):
        """class_type, the node id when the class is NOT_IDEMPOTENT, then the inputs by name with links
        as their ancestor's signature: CacheKeySetInputSignature, with ancestors inlined."""
        node = prompt[node_id]
        signature = [node["class_type"]]
        if getattr(nodes.NODE_CLASS_MAPPINGS.get(node["class_type"]), "NOT_IDEMPOTENT", False):
            signature.append(node_id)
        for key in sorted(node["inputs"]):
            value = node["inputs"][key]
            if isinstance(value, list) and len(value) == 2:
                value = ("ANCESTOR", self._signature(prompt, value[0]), value[1])
            signature.append((key, value))
        return repr(signature)

    def add_message(self, event, data, broadcast):
        data = {**data, "timestamp": int(time.time() * 1000)}
        self.status_messages.append((event, data))
        if self.server.client_id is not None or broadcast:
            self.server.send_sync(event, data, self.server.client_id)

    def _order(self, prompt, outputs):
        """Each output after the nodes it links from, depth first, as the real ExecutionList stages them."""
        order, seen = [], set()

        def visit(node_id):
            if node_id in seen:
                return
            seen.add(node_id)
            for value in prompt[node_id]["inputs"].values():
                if isinstance(value, list) and len(value) == 2:
                    visit(value[0])
            order.append(node_id)

        for o in outputs:
            visit(o)
        return order

    def execute(self, prompt, prompt_id, extra_data, execute_outputs):
        nodes.interrupt_processing(False)
        self.server.client_id = extra_data.get("client_id")
        self.status_messages = []
        self.success = True
        self.add_message("execution_start", {"prompt_id": prompt_id}, broadcast=False)
        signatures = {node_id: self._signature(prompt, node_id) for node_id in prompt}
        self.outputs_cache = {sig: out for sig, out in self.outputs_cache.items() if sig in signatures.values()}
        cached_nodes = [node_id for node_id in prompt if signatures[node_id] in self.outputs_cache]
        self.add_message("execution_cached", {"nodes": cached_nodes, "prompt_id": prompt_id}, broadcast=False)
        results, ui_outputs, meta, executed = {}, {}, {}, []
        for node_id in self._order(prompt, execute_outputs):
            class_type = prompt[node_id]["class_type"]
            cached = self.outputs_cache.get(signatures[node_id])
            if cached is not None:
                # execution.py's execute(): no `executing`, not in `executed`, an `executed` event with
                # the cached UI (or None); the history keeps that UI only when a client asked (as there).
                results[node_id], ui = cached
                if self.server.client_id is not None:
                    self.server.send_sync("executed", {"node": node_id, "display_node": node_id,
                                                       "output": ui, "prompt_id": prompt_id},
                                          self.server.client_id)
                    if ui is not None:
                        ui_outputs[node_id] = ui
                        meta[node_id] = {"node_id": node_id, "display_node": node_id, "parent_node": None,
                                         "real_node_id": node_id}
                continue
            self.server.last_node_id = node_id
            if self.server.client_id is not None:
                self.server.send_sync("executing", {"node": node_id, "display_node": node_id,
                                                    "prompt_id": prompt_id}, self.server.client_id)
            input_data = {}
            try:
                for name, value in prompt[node_id]["inputs"].items():
                    input_data[name] = results[value[0]][value[1]] if isinstance(value, list) else value
                if nodes.is_interrupted():
                    raise InterruptProcessingException()
                obj = nodes.NODE_CLASS_MAPPINGS[class_type]()
                nodes.current_context.update(prompt_id=prompt_id, node_id=node_id, prompt=prompt)
                out = getattr(obj, obj.FUNCTION)(**input_data)
            except InterruptProcessingException:
                self.success = False
                self.add_message("execution_interrupted", {"prompt_id": prompt_id, "node_id": node_id,
                                                           "node_type": class_type, "executed": list(executed)},
                                 broadcast=True)
                break
            except Exception as ex:
                typ, _, tb = sys.exc_info()
                logging.error(f"!!! Exception during processing !!! {ex}")
                logging.error(traceback.format_exc())
                self.success = False
                self.add_message("execution_error", {
                    "prompt_id": prompt_id, "node_id": node_id, "node_type": class_type,
                    "executed": list(executed), "exception_message": "{}\n{}".format(ex, ""),
                    "exception_type": full_type_name(typ), "traceback": traceback.format_tb(tb),
                    "current_inputs": {k: [format_value(v)] for k, v in input_data.items()},
                    "current_outputs": []}, broadcast=False)
                break
            if isinstance(out, dict):
                ui = out.get("ui")
                results[node_id] = out.get("result", ())
                if ui is not None:
                    ui_outputs[node_id] = ui
                    meta[node_id] = {"node_id": node_id, "display_node": node_id, "parent_node": None,
                                     "real_node_id": node_id}
                    if self.server.client_id is not None:
                        self.server.send_sync("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                                           "prompt_id": prompt_id}, self.server.client_id)
            else:
                results[node_id] = out
                ui = None
            self.outputs_cache[signatures[node_id]] = (results[node_id], ui)
            executed.append(node_id)
        else:
            self.add_message("execution_success", {"prompt_id": prompt_id}, broadcast=False)
        self.history_result = {"outputs": ui_outputs, "meta": meta}
        self.server.last_node_id = None


def prompt_worker(q, server_instance):
    """main.py's worker thread: one prompt at a time, history, then `executing` with node null."""
    e = PromptExecutor(server_instance)
    while True:
        queue_item = q.get(timeout=1000.0)
        if queue_item is None:
            continue
        item, item_id = queue_item
        start = time.perf_counter()
        prompt_id = item[1]
        server_instance.last_prompt_id = prompt_id
        extra_data = item[3].copy()
        extra_data.update(item[5])
        e.execute(item[2], prompt_id, extra_data, item[4])
        q.task_done(item_id, e.history_result,
                    status={"status_str": "success" if e.success else "error", "completed": e.success,
                            "messages": [list(m) for m in e.status_messages]})
        if server_instance.client_id is not None:
            server_instance.send_sync("executing", {"node": None, "prompt_id": prompt_id},
                                      server_instance.client_id)
        logging.info("Prompt executed in {:.2f} seconds".format(time.perf_counter() - start))
