"""infra/ (the `azd up` template) parses, and agrees with the app: settings, storage provider, Python version.

The settings the app reads are found in its code (testing/app_settings.py), so a setting added to tools/ or
orchestrations/ fails here until infra/app/function-app.bicep sets it or NOT_SET_ON_AZURE says why not.
"""
from __future__ import annotations

import datetime
import json
import re
import subprocess

import pytest
import yaml

from testing import infra
from testing.app_settings import settings_read
from testing.deploy import deployable_files
from testing.host_process import PROJECT_ROOT

# Read by the app but deliberately left unset on Azure, each with the reason.
NOT_SET_ON_AZURE = {
    "OPENAI_API_KEY": "the OpenAI provider; on Azure the model is Azure OpenAI reached with the managed identity",
    "OPENAI_BASE_URL": "an OpenAI-compatible server; on Azure the model is Azure OpenAI",
    "OPENAI_API_MODE": "the default (responses) is what Azure OpenAI serves",
    "OPENAI_API_VERSION": "unset: the app calls Azure OpenAI's v1 API, which takes no api-version",
    "AZURE_OPENAI_API_VERSION": "unset: the app calls Azure OpenAI's v1 API, which takes no api-version",
    "AZURE_OPENAI_API_KEY": "key authentication is off on the account (disableLocalAuth); the identity is used",
    "OPENAI_AGENTS_DISABLE_TRACING": "tracing to OpenAI stays off (the default)",
    "MODEL_MAX_ATTEMPTS": "retry tuning; the default fits",
    "MODEL_MAX_RETRY_DELAY_SECONDS": "retry tuning; the default fits",
    "MODEL_MAX_OUTPUT_TOKENS": "the app's default cap fits; set it in the app settings to change it",
    "MODEL_TEMPERATURE": "the model's default",
    "MODEL_REQUEST_TIMEOUT_SECONDS": "the default fits the function timeout (tests/test_model_config.py checks it)",
    "MODEL_CONTEXT_TOKENS": "the default window (128,000 tokens) fits Azure OpenAI's models; set it for a smaller one",
    "FETCH_URL_ALLOWED_HOSTS": "lets fetch_url reach private hosts; none are allowed on Azure",
    "APP_DATA_DIR": "the local files store; on Azure the APP_STORAGE__* connection is used",
    "APP_STORAGE": "a connection string holds the account key; the identity-based APP_STORAGE__* are used",
    "WEBSITE_INSTANCE_ID": "set by the platform on every instance",
    "PATH": "the process's search path, set by the platform (the code swarm passes it to ruff and the sandbox)",
    "CHECK_TIMEOUT_SECONDS": "the code swarm's check timeout; the default fits",
    "APP_CRASH_POINTS": "test-only fault injection (crash tests); never set where users run",
    "MODEL_PRICES": "the default price table has the model infra deploys; set it to price another deployment",
    "BUDGET_DEFAULT": "no budget unless a launcher sets one; set it to give every job a default budget",
    "BUDGET_MAX": "no maximum; set it to cap what launchers and raises may ask for",
    "MODEL_MAX_CONCURRENT_CALLS": "no limit on model calls in flight; set it to keep a burst of jobs under the "
                                  "deployment's quota (per instance)",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "traces go to Application Insights (APPLICATIONINSIGHTS_CONNECTION_STRING); set it "
                                   "to export to an OTLP collector too",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "as OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SDK_DISABLED": "traces are on; set it to true to turn them off",
    "OTEL_TRACES_EXPORTER": "traces are on; set it to none to turn them off",
    "OTEL_SERVICE_NAME": "the default service name fits",
}

# Set by infra/ for readers other than the app's code (host.json's references are found in host.json).
READ_BY_THE_PLATFORM = {
    "AzureWebJobsStorage__credential": "the Functions host's storage, identity-based connection",
    "AzureWebJobsStorage__clientId": "the Functions host's storage, identity-based connection",
    "AzureWebJobsStorage__blobServiceUri": "the Functions host's storage, identity-based connection",
    "AzureWebJobsStorage__queueServiceUri": "the MCP extension's SSE backplane queues",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "the Functions host's telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "the Functions host's telemetry, with the identity",
    "AZURE_CLIENT_ID": "azure-identity's DefaultAzureCredential picks the user-assigned identity by it",
}

# Settings Flex Consumption rejects or ignores (https://learn.microsoft.com/azure/azure-functions/
# functions-app-settings#flex-consumption-plan-deprecations; the runtime comes from functionAppConfig), and
# AzureWebJobsStorage itself (a connection string: the account's shared keys are off).
REJECTED_BY_FLEX = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME_VERSION",
                    "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
                    "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD", "PYTHON_ISOLATE_WORKER_DEPENDENCIES",
                    "AzureWebJobsStorage"}

BICEP_FILES = sorted(infra.INFRA.rglob("*.bicep"))
# What Microsoft's docs say about models, regions and extension bundles, each fact with its source and date.
FACTS = json.loads((PROJECT_ROOT / "tests" / "data" / "azure_facts.json").read_text(encoding="utf-8"))


def host_json() -> dict:
    return json.loads((PROJECT_ROOT / "host.json").read_text(encoding="utf-8"))


def host_json_settings() -> set[str]:
    """Settings host.json names: `%NAME%` references and `connectionStringName`/`connectionName` values."""
    text = (PROJECT_ROOT / "host.json").read_text(encoding="utf-8")
    names = set(re.findall(r"%([A-Za-z0-9_]+)%", text))
    names |= set(re.findall(r'"connection(?:String)?Name"\s*:\s*"([^"%]+)"', text))
    return names


@pytest.fixture(scope="module")
def app_reads():
    files = [PROJECT_ROOT / path for path in deployable_files() if path.suffix == ".py"]
    return settings_read(files, PROJECT_ROOT)


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(infra.INFRA).as_posix())
def test_bicep_parses(path):
    assert infra.syntax_errors(path) == []


def test_syntax_errors_are_found(tmp_path):
    broken = tmp_path / "broken.bicep"
    broken.write_text("param name string\nresource app 'Microsoft.Web/sites@2024-04-01' = {\n  name: name\n")
    assert infra.syntax_errors(broken)


def test_modules_get_the_params_they_declare_and_give_the_outputs_used():
    for path in BICEP_FILES:
        uses = {use.symbol: use for use in infra.modules(path)}
        for use in uses.values():
            declared = infra.declared_parameters(use.target)
            assert set(use.params) <= set(declared), (use, sorted(set(use.params) - set(declared)))
            required = {name for name, has_default in declared.items() if not has_default}
            assert required <= set(use.params), (use, sorted(required - set(use.params)))
        for symbol, output in infra.output_references(path):
            assert symbol in uses, f"{path.name}: {symbol}.outputs.{output} names no module"
            assert output in infra.declared_outputs(uses[symbol].target), f"{path.name}: {symbol}.outputs.{output}"


def test_azd_parameters_are_main_bicep_params():
    parameters = json.loads((infra.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = infra.declared_parameters(infra.MAIN_BICEP)
    assert set(parameters) <= set(declared)
    assert {name for name, has_default in declared.items() if not has_default} <= set(parameters)


def test_role_assignments_take_the_principal_type_azd_passes():
    """azd run by a service principal (CI) would fail a role assignment hard-coded to 'User'
    (UnmatchedPrincipalType): the person's (or pipeline's) assignments take AZURE_PRINCIPAL_TYPE, which azd
    fills in itself from how it is logged in (Azure/azure-dev#5285, pkg/infra/provisioning/bicep:
    evalParamEnvSubst: ServicePrincipal after `azd auth login --client-id`, else User; the environment's value
    is never read, so no default is needed); the app's identity is always a ServicePrincipal."""
    parameters = json.loads((infra.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["principalType"]["value"] == "${AZURE_PRINCIPAL_TYPE}"
    assert set(infra.parameter(infra.INFRA / "main.bicep", "principalType").allowed) >= {"User", "ServicePrincipal"}
    [rbac] = [use for use in infra.modules(infra.INFRA / "main.bicep") if use.target.name == "rbac.bicep"]
    assert "userPrincipalType" in rbac.params
    assert "userPrincipalType: principalType" in (infra.INFRA / "main.bicep").read_text(encoding="utf-8")
    text = (infra.INFRA / "app" / "rbac.bicep").read_text(encoding="utf-8")
    assert "principalType: 'User'" not in text and text.count("principalType: userPrincipalType") == 3


def test_setting_reads_of_every_kind_are_found(tmp_path):
    (tmp_path / "settings.py").write_text(
        "import os\n"
        "E_ENV = 'E'\n"
        "def _env(name):\n    return os.environ.get(name, '').strip() or None\n"
        "def read(env=None, prefix='x'):\n"
        "    env = os.environ if env is None else env\n"
        "    return (os.environ.get('A'), os.environ['B'], os.getenv('C'), 'D' in os.environ, env.get(E_ENV),\n"
        "            _env('F'), os.environ.get(f'{prefix}_G'))\n"
        "os.environ['WRITTEN'] = 'not a read'\n")
    found = settings_read([tmp_path / "settings.py"], tmp_path)
    assert sorted(found.reads) == ["A", "B", "C", "D", "E", "F"]
    assert len(found.unresolved) == 1 and "_G" in found.unresolved[0]


def test_every_setting_read_is_found(app_reads):
    assert app_reads.unresolved == [], "use a literal or a module constant as the setting name"


def test_every_setting_the_app_reads_is_set_or_deliberately_unset(app_reads):
    unset = set(app_reads.reads) - set(infra.app_settings()) - set(NOT_SET_ON_AZURE)
    where = {name: app_reads.reads[name] for name in sorted(unset)}
    assert not unset, f"set these in infra/app/function-app.bicep, or say in NOT_SET_ON_AZURE why not: {where}"
    stale = set(NOT_SET_ON_AZURE) - set(app_reads.reads)
    assert not stale, f"no longer read by the app: {sorted(stale)}"


def test_infra_sets_exactly_what_is_read(app_reads):
    needed = (set(app_reads.reads) - set(NOT_SET_ON_AZURE)) | host_json_settings() | set(READ_BY_THE_PLATFORM)
    assert sorted(infra.app_settings()) == sorted(needed)
    assert not set(infra.app_settings()) & REJECTED_BY_FLEX


def test_host_json_uses_the_durable_task_scheduler_that_infra_creates():
    durable = host_json()["extensions"]["durableTask"]
    assert durable["storageProvider"]["type"] == "azureManaged"
    assert durable["hubName"] == "%TASKHUB_NAME%"
    connection = durable["storageProvider"]["connectionStringName"]
    app_bicep = infra.FUNCTION_APP_BICEP.read_text(encoding="utf-8")
    assert re.search(rf"^\s*{connection}: 'Endpoint=\$\{{schedulerEndpoint\}};Authentication=ManagedIdentity;"
                     r"ClientID=\$\{identityClientId\}'", app_bicep, re.MULTILINE), connection
    scheduler = (infra.INFRA / "app" / "durable-task-scheduler.bicep").read_text(encoding="utf-8")
    assert "'Microsoft.DurableTask/schedulers@" in scheduler and "'Microsoft.DurableTask/schedulers/taskhubs@" in scheduler


def test_python_version_is_one_the_requirements_support():
    version = infra.parameter(infra.MAIN_BICEP, "pythonVersion")
    parameters = json.loads((infra.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["pythonVersion"]["value"] == f"${{AZURE_FUNCTIONS_PYTHON_VERSION={version.default}}}"
    supported = re.search(r'^SUPPORTED="([^"]+)"', (PROJECT_ROOT / "scripts" / "find_python.sh").read_text(),
                          re.MULTILINE).group(1).split()
    assert version.default in version.allowed and set(version.allowed) <= set(supported)
    # requirements.txt installs on it: the worker-indexing check builds its venv with exactly this version.


def test_postprovision_prints_endpoint_key_command_and_client_configs():
    env = {"AZURE_FUNCTION_APP_NAME": "func-abc", "SERVICE_API_URI": "https://func-abc.azurewebsites.net",
           "AZURE_RESOURCE_GROUP": "rg-dev", "DURABLE_TASK_SCHEDULER_DASHBOARD_URL": "https://dashboard.example/x",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["python3", "scripts/postprovision.py"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, check=True)
    out = done.stdout
    url = "https://func-abc.azurewebsites.net/runtime/webhooks/mcp"
    assert url in out
    command = ("az functionapp keys list --resource-group rg-dev --name func-abc "
               "--query systemKeys.mcp_extension --output tsv")
    assert command in out
    vscode = json.loads(out.split("VS Code (.vscode/mcp.json; asks for the key when the server starts):\n")[1]
                        .splitlines()[0])
    server = vscode["servers"]["durable-agents"]
    assert server["url"] == url and server["headers"]["x-functions-key"] == "${input:functions-mcp-extension-system-key}"
    assert f'claude mcp add --transport http durable-agents {url} --header "x-functions-key: $({command})"' in out
    assert "https://dashboard.example/x" in out


def test_postprovision_says_what_is_missing():
    done = subprocess.run(["python3", "scripts/postprovision.py"], cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "AZURE_FUNCTION_APP_NAME" in done.stderr


def azd_parameter(name: str) -> tuple[str, str | None]:
    """(environment variable, default) of a main.parameters.json value `${VAR=default}` (default None: `${VAR}`)."""
    parameters = json.loads((infra.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    match = re.fullmatch(r"\$\{(\w+)(?:=([^}]*))?\}", parameters[name]["value"])
    assert match, parameters[name]
    return match.group(1), match.group(2)


def lifecycle_problems(model: str, version: str, today: datetime.date) -> list[str]:
    """Why Azure would refuse a new deployment of `model` `version` today, by each lifecycle source that lists it
    (any source suffices: they were published at different dates and disagree); a model none lists is a problem."""
    problems, listed = [], False
    refused = set(FACTS["lifecycle_stages_that_refuse_new_deployments"]["stages"])
    for source in FACTS["lifecycle_sources"]:
        for row in source["rows"]:
            if (row["model"], row["version"]) != (model, version):
                continue
            listed = True
            where = f"{source['path']}@{source['commit'][:7]} ({source['source_date']})"
            if row["lifecycle"] in refused or row["lifecycle"] == "Preview":
                problems.append(f"{where}: {row['lifecycle']}")
            if datetime.date.fromisoformat(row["retirement"]) <= today:
                problems.append(f"{where}: retired on {row['retirement']}")
            if row.get("no_new_customers") and datetime.date.fromisoformat(row["no_new_customers"]) <= today:
                problems.append(f"{where}: no new customers from {row['no_new_customers']}")
    return problems if listed else [f"{model} {version} is in no retirement table read"]


def test_the_default_model_is_one_azure_still_deploys_and_the_app_can_use():
    """Issue 17.1: the default (gpt-4.1-mini 2025-04-14) was deprecated with no new customers from 2026-04-14 and
    retirement on 2026-10-14 by the retirement table, so `azd up` failed at the model deployment. The default
    model and version live in main.parameters.json only (main.bicep's parameters have no default), and must be
    generally available, not retired today, and support the Responses API and tool calls."""
    model_variable, model = azd_parameter("openAiModelName")
    version_variable, version = azd_parameter("openAiModelVersion")
    assert (model_variable, version_variable) == ("AZURE_OPENAI_MODEL", "AZURE_OPENAI_MODEL_VERSION")
    for name in ("openAiModelName", "openAiModelVersion"):
        assert infra.declared_parameters(infra.MAIN_BICEP)[name] is False, f"{name}: its default lives in one place"
    assert lifecycle_problems(model, version, datetime.date.today()) == []
    [support] = [row for row in FACTS["responses_api"]["models"]["values"]
                 if (row["model"], row["version"]) == (model, version)]
    assert support["responses"] and support["tools"], support
    [use] = [use for use in infra.modules(infra.MAIN_BICEP) if use.target.name == "openai.bicep"]
    text = infra.MAIN_BICEP.read_text(encoding="utf-8")
    assert {"modelName", "modelVersion"} <= set(use.params)
    assert "modelName: openAiModelName" in text and "modelVersion: openAiModelVersion" in text


def test_the_lifecycle_check_refuses_a_retired_model():
    """The check above can fail: the old default is refused by the tables that retire it."""
    problems = lifecycle_problems("gpt-4.1-mini", "2025-04-14", datetime.date(2026, 12, 7))
    assert any("retired on 2026-10-14" in problem for problem in problems), problems
    assert any(": Deprecated" in problem for problem in problems), problems
    assert lifecycle_problems("gpt-9", "2030-01-01", datetime.date(2026, 12, 7)) == [
        "gpt-9 2030-01-01 is in no retirement table read"]


def test_the_model_account_is_created_where_the_responses_api_is_served():
    """Issue 17.2: eastasia, northeurope and westus2 were allowed, and have no Responses API, the app's default
    API: every job failed at its first model call. The account goes to `location` or `openAiLocation`."""
    regions = set(FACTS["responses_api"]["regions"]["values"])
    location = infra.parameter(infra.MAIN_BICEP, "location")
    assert location.allowed and set(location.allowed) <= regions, sorted(set(location.allowed) - regions)
    account = infra.parameter(infra.MAIN_BICEP, "openAiLocation")
    assert account.default == "" and set(account.allowed) - {""} <= regions
    assert "location: empty(openAiLocation) ? location : openAiLocation" in infra.MAIN_BICEP.read_text(encoding="utf-8")


def test_host_json_uses_the_ga_bundle_that_carries_the_mcp_extension_the_app_needs():
    """Issue 17.5: the Preview bundle range [4.34.0, 5.0.0) allowed 4.34.0-Preview (MCP extension 1.0.0-preview.6:
    no resource triggers, no output schemas); the GA bundle from 4.36.0 carries MCP extension 1.5.0 and the
    Durable Task Scheduler provider, as the official MCP and Durable Task Scheduler samples use the GA bundle."""
    bundle = host_json()["extensionBundle"]
    facts = FACTS["extension_bundles"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    match = re.fullmatch(r"\[(\d+\.\d+\.\d+), 5\.0\.0\)", bundle["version"])
    assert match, bundle
    lowest = match.group(1)
    [shipped] = [b for b in facts["bundles"] if b["id"] == bundle["id"] and b["version"] == lowest]
    needed = facts["mcp_extension_needed"]["version"]
    assert shipped["extensions"]["Microsoft.Azure.Functions.Extensions.Mcp"] == needed
    assert "Microsoft.Azure.WebJobs.Extensions.DurableTask.AzureManaged" in shipped["extensions"]


def test_host_json_keeps_keys_azure_has_no_option_for_under_local_host():
    """Issue 17.8: serverInfo's title, description and websiteUrl are options of the local host only (Azure's
    McpOptions has ServerName, ServerVersion, Instructions, EncryptClientState, MessageOptions and `system`);
    they live under extensions.mcp.localHost, which Azure's options binding ignores."""
    mcp = host_json()["extensions"]["mcp"]
    azure_options = {"serverName", "serverVersion", "instructions", "encryptClientState", "messageOptions", "system"}
    assert set(mcp) - azure_options == {"localHost"}
    assert set(mcp["localHost"]) <= {"title", "description", "websiteUrl"} and mcp["localHost"]["title"]


def test_the_informational_postprovision_hook_cannot_stop_a_deploy():
    """Issue 17.7: a failing postprovision hook stopped `azd up` before the deploy. With posix and windows both
    given, azd's schema (schemas/v1.0/azure.yaml.json, hook) wants continueOnError in each."""
    project = yaml.safe_load((PROJECT_ROOT / "azure.yaml").read_text(encoding="utf-8"))
    hook = project["hooks"]["postprovision"]
    assert set(hook) == {"posix", "windows"}
    for platform in hook.values():
        assert platform["continueOnError"] is True and "scripts/postprovision.py" in platform["run"]


def test_git_ignores_azd_environments():
    """.azure/<env>/.env holds the deployment's outputs and settings: not for a repository."""
    assert ".azure/" in (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_infra_tells_the_app_whether_the_default_model_reasons():
    """Issue 17 §2: on Azure the app knows the model only by its deployment's name, so MODEL_REASONING_EFFORT is
    what tells it the deployment is a reasoning model (request forms, no temperature; model_config.py)."""
    _, model = azd_parameter("openAiModelName")
    _, version = azd_parameter("openAiModelVersion")
    variable, effort = azd_parameter("openAiReasoningEffort")
    [facts] = [row for row in FACTS["responses_api"]["models"]["values"] if (row["model"], row["version"]) == (model, version)]
    assert variable == "AZURE_OPENAI_REASONING_EFFORT"
    assert (effort not in ("", None)) == facts["reasoning"]
    assert effort in infra.parameter(infra.MAIN_BICEP, "openAiReasoningEffort").allowed
    assert "MODEL_REASONING_EFFORT: modelReasoningEffort" in infra.FUNCTION_APP_BICEP.read_text(encoding="utf-8")
    assert "modelReasoningEffort: openAiReasoningEffort" in infra.MAIN_BICEP.read_text(encoding="utf-8")
