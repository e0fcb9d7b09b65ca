"""Index a function app with the Azure Functions Python worker's own code, as Azure's host has it done.

Run with the Python of a venv that holds only the app's requirements.txt and the worker library
(`azure-functions-runtime`, the worker Azure runs for Python 3.13+), in isolated mode, so that nothing
of this project but the staged app folder can be imported (with its `.python_packages/lib/site-packages`
ahead of the venv's, where a remote build leaves the app's packages on Azure):

    <venv>/bin/python -I testing/worker_index.py <staged app folder>

It sends the worker the WorkerInitRequest the host sends at start (the worker indexes the app there),
then the FunctionMetadataRequest, and prints one JSON object on stdout:
`{"status": "Success"|"Failure", "error": str|None, "functions": [{name, script_file, entry_point,
bindings: [raw binding JSON objects]}], "modules": {module name: file}, "top_level": [names],
"worker": the azure-functions-runtime version}` - `modules` lists every module loaded from the app folder,
`top_level` the top-level names of every module loaded. The gRPC messages are plain records with the fields
of the worker protocol (azure-functions-language-worker-protobuf, FunctionRpc.proto): the worker only
constructs and reads them.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any


CUSTOMER_PACKAGES = Path(".python_packages", "lib", "site-packages")


class Message:
    """A protobuf message as the worker uses it: keyword construction of declared fields only."""

    FIELDS: tuple[str, ...] = ()

    def __init__(self, **fields: Any):
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no field {sorted(unknown)}")
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        if name in type(self).FIELDS:
            return None
        raise AttributeError(name)


def message(name: str, *fields: str, **constants: int) -> type[Message]:
    return type(name, (Message,), {"FIELDS": fields, **constants})


class Protos:
    """The messages of FunctionRpc.proto that worker init and metadata requests construct."""

    StatusResult = message("StatusResult", "status", "result", "exception", "logs",
                           Failure=0, Success=1, Cancelled=2)
    RpcException = message("RpcException", "source", "stack_trace", "message", "is_user_exception", "type")
    WorkerMetadata = message("WorkerMetadata", "runtime_name", "runtime_version", "worker_version",
                             "worker_bitness", "custom_properties")
    WorkerInitResponse = message("WorkerInitResponse", "worker_version", "capabilities", "result",
                                 "worker_metadata")
    FunctionMetadataResponse = message("FunctionMetadataResponse", "function_metadata_results", "result",
                                       "use_default_metadata_indexing")
    RpcFunctionMetadata = message("RpcFunctionMetadata", "name", "directory", "script_file", "entry_point",
                                  "bindings", "is_proxy", "status", "language", "raw_bindings", "function_id",
                                  "managed_dependency_enabled", "retry_options", "properties")
    RpcRetryOptions = message("RpcRetryOptions", "max_retry_count", "delay_interval", "minimum_interval",
                              "maximum_interval", "retry_strategy")
    BindingInfo = message("BindingInfo", "type", "direction", "data_type", "properties",
                          **{"in": 0, "out": 1, "inout": 2, "undefined": 0, "string": 1, "binary": 2, "stream": 3})


def index(app_dir: Path) -> dict[str, Any]:
    from azure_functions_runtime import handle_event

    # The worker process runs in the app folder with it first on sys.path (the host starts it there), then the
    # packages a remote build installed (Azure's CUSTOMER_PACKAGES_PATH, /home/site/wwwroot/.python_packages/
    # lib/site-packages), which come before the worker's own.
    os.chdir(app_dir)
    sys.path.insert(0, str(app_dir))
    if (app_dir / CUSTOMER_PACKAGES).is_dir():
        sys.path.insert(1, str(app_dir / CUSTOMER_PACKAGES))
    init = SimpleNamespace(capabilities={}, function_app_directory=str(app_dir), host_version="4",
                           worker_directory="", log_categories={})
    request = SimpleNamespace(request=SimpleNamespace(worker_init_request=init),
                              properties={"host": "127.0.0.1", "protos": Protos})
    response = asyncio.run(handle_event.worker_init_request(request))
    if response.result.status != Protos.StatusResult.Success:
        return {"status": "Failure", "error": response.result.exception.message, "functions": [], "modules": {},
                "top_level": []}
    metadata = asyncio.run(handle_event.functions_metadata_request(None))
    functions = [{"name": fn.name, "script_file": fn.script_file, "entry_point": fn.entry_point,
                  "bindings": [json.loads(raw) for raw in fn.raw_bindings]}
                 for fn in metadata.function_metadata_results or []]
    modules = {name: module.__file__ for name, module in list(sys.modules.items())
               if getattr(module, "__file__", None) and Path(module.__file__).resolve().is_relative_to(app_dir)}
    top_level = sorted({name.partition(".")[0] for name in sys.modules})
    return {"status": "Success", "error": None, "functions": functions, "modules": modules, "top_level": top_level}


if __name__ == "__main__":
    from importlib.metadata import version

    print(json.dumps({**index(Path(sys.argv[1]).resolve()), "worker": version("azure-functions-runtime")}))
