"""infra/ deploys the server behind Entra ID (issue 20 §1): App Service authentication with Protected Resource
Metadata, an app registration with the scope, the admin role and pre-authorized clients, and the MCP key turned
off by the same app setting the local host's tests use. No Azure account is here: these read the Bicep (the
tree-sitter grammar, testing/infra.py); what only a deployment proves is in README "Teams: sign-in".
"""
from __future__ import annotations

import json
import subprocess

from host.functions.loader import with_host_overrides
from testing import infra
from testing.fake_oidc import ADMIN_ROLE
from testing.team import ANONYMOUS_MCP
from tools.caller import DEFAULT_ADMIN_ROLE

ENTRA = infra.INFRA / "app" / "entra.bicep"
VSCODE_CLIENT_ID = "aebc6443-996d-45c2-90f0-388ff96faa56"


def test_the_registration_is_made_with_the_graph_extension():
    assert infra.extensions(ENTRA) == ["microsoftGraphV1"]
    config = json.loads((infra.INFRA / "bicepconfig.json").read_text(encoding="utf-8"))
    assert config["extensions"]["microsoftGraphV1"].startswith("br:mcr.microsoft.com/bicep/extensions/microsoftgraph/")
    registration = infra.declaration(ENTRA, "resource_declaration", "registration")
    assert "'Microsoft.Graph/applications@v1.0'" in registration.text.decode()
    assert infra.value_text(registration, "api.requestedAccessTokenVersion") == "2"
    scope = infra.value_text(registration, "api.oauth2PermissionScopes")
    assert "value: scopeValue" in scope and "type: 'User'" in scope
    assert "scopeValue = 'user_impersonation'" in ENTRA.read_text(encoding="utf-8")
    assert "value: adminRoleValue" in infra.value_text(registration, "appRoles")
    assert infra.parameter(ENTRA, "adminRoleValue").default == DEFAULT_ADMIN_ROLE == ADMIN_ROLE
    assert "delegatedPermissionIds: [scopeId]" in infra.value_text(registration, "api.preAuthorizedApplications")
    assert "/.auth/login/aad/callback" in infra.value_text(registration, "web.redirectUris")
    credential = infra.declaration(ENTRA, "resource_declaration", "federatedCredential")
    assert infra.value_text(credential, "subject") == "managedIdentityPrincipalId"
    assert infra.value_text(credential, "audiences") == "['api://AzureADTokenExchange']"
    assert {"clientId", "identifierUri", "scope", "adminRole"} <= infra.declared_outputs(ENTRA)


def test_easy_auth_requires_an_entra_token_and_publishes_protected_resource_metadata():
    sign_in = infra.declaration(infra.FUNCTION_APP_BICEP, "resource_declaration", "signIn")
    text = sign_in.text.decode()
    assert "if (mcpAuth == 'entra')" in text and "name: 'authsettingsV2'" in text
    assert infra.value_text(sign_in, "properties.globalValidation.requireAuthentication") == "true"
    assert infra.value_text(sign_in, "properties.globalValidation.unauthenticatedClientAction") == "'Return401'"
    aad = "properties.identityProviders.azureActiveDirectory"
    assert infra.value_text(sign_in, f"{aad}.registration.clientId") == "authClientId"
    assert infra.value_text(sign_in, f"{aad}.registration.clientSecretSettingName") == \
        "'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'"
    assert "authIdentifierUri" in infra.value_text(sign_in, f"{aad}.validation.allowedAudiences")
    assert infra.value_text(sign_in, f"{aad}.validation.defaultAuthorizationPolicy.allowedApplications") == \
        "union([authClientId], allowedClientIds)"
    settings = infra.object_keys(infra.FUNCTION_APP_BICEP, "signInSettings")
    assert sorted(settings) == sorted(["WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES", "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
                                       "WEBSITE_AUTH_AAD_ALLOWED_TENANTS", *ANONYMOUS_MCP])
    variable = infra.declaration(infra.FUNCTION_APP_BICEP, "variable_declaration", "signInSettings")
    assert infra.value_text(variable, "WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES") == "authScope"
    [(override, value)] = ANONYMOUS_MCP.items()
    assert infra.value_text(variable, override) == f"'{value}'"
    applied = infra.declaration(infra.FUNCTION_APP_BICEP, "resource_declaration", "settings")
    assert infra.value_text(applied, "properties") == \
        "mcpAuth == 'entra' ? union(appSettings, signInSettings) : appSettings"
    assert infra.value_text(infra.declaration(infra.FUNCTION_APP_BICEP, "variable_declaration", "appSettings"),
                            "JOBS_ADMIN_ROLE") == "adminRole"


def test_azd_deploys_for_a_team_by_default_and_keys_remain_a_setting():
    assert infra.parameter(infra.MAIN_BICEP, "mcpAuth") == infra.Parameter("mcpAuth", "entra", ("entra", "keys"))
    parameters = json.loads((infra.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["mcpAuth"]["value"] == "${MCP_AUTH=entra}"
    assert parameters["preAuthorizedClientIds"]["value"] == f"${{PRE_AUTHORIZED_CLIENT_IDS={VSCODE_CLIENT_ID}}}"
    entra = infra.declaration(infra.MAIN_BICEP, "module_declaration", "entra")
    assert "if (mcpAuth == 'entra')" in entra.text.decode()
    api = infra.declaration(infra.MAIN_BICEP, "module_declaration", "api")
    assert infra.value_text(api, "params.mcpAuth") == "mcpAuth"
    assert infra.value_text(api, "params.authScope") == "mcpAuth == 'entra' ? entra!.outputs.scope : ''"
    assert {"MCP_AUTH", "AUTH_CLIENT_ID", "AUTH_SCOPE"} <= infra.declared_outputs(infra.MAIN_BICEP)


def test_the_app_setting_that_turns_the_mcp_key_off_is_applied_to_host_json_as_azure_does():
    host_json = json.loads((infra.PROJECT_ROOT / "host.json").read_text(encoding="utf-8"))
    assert host_json["extensions"]["mcp"]["system"]["webhookAuthorizationLevel"] == "System"  # one person: keys
    overridden = with_host_overrides(host_json, {name.upper(): value for name, value in ANONYMOUS_MCP.items()})
    assert overridden["extensions"]["mcp"]["system"]["webhookAuthorizationLevel"] == "Anonymous"
    assert overridden["extensions"]["durableTask"] == host_json["extensions"]["durableTask"]
    created = with_host_overrides({}, {"AzureFunctionsJobHost__logging__logLevel__default": "Warning", "OTHER": "x"})
    assert created == {"logging": {"logLevel": {"default": "Warning"}}}


def test_postprovision_says_how_a_team_signs_in():
    env = {"AZURE_FUNCTION_APP_NAME": "func-abc", "SERVICE_API_URI": "https://func-abc.azurewebsites.net",
           "AZURE_RESOURCE_GROUP": "rg-dev", "MCP_AUTH": "entra", "AUTH_CLIENT_ID": "1111",
           "AUTH_SCOPE": "api://func-abc-mcp-x/user_impersonation", "JOBS_ADMIN_ROLE": "Jobs.Admin",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["python3", "scripts/postprovision.py"], cwd=infra.PROJECT_ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    url = "https://func-abc.azurewebsites.net/runtime/webhooks/mcp"
    vscode = json.loads(out.split("when the server starts):\n")[1].splitlines()[0])
    assert vscode == {"servers": {"durable-agents": {"type": "http", "url": url}}}  # no key: the client signs in
    assert "api://func-abc-mcp-x/user_impersonation" in out and "Jobs.Admin" in out
    assert "x-functions-key" not in out and "az functionapp keys" not in out
