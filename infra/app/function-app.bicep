// The Flex Consumption plan and the function app, running as the user-assigned identity. `appSettings` below is
// every setting the app and host.json read on Azure (tests/test_infra.py compares it with the code).
// As in Azure-Samples/remote-mcp-functions-python (infra/app/api.bicep) and
// Azure-Samples/azure-functions-flex-consumption-samples (IaC/bicep/core/host/function.bicep).
param name string
param planName string
param location string
param tags object = {}
param pythonVersion string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param schedulerEndpoint string
param taskHubName string
param openAiEndpoint string
param openAiDeploymentName string
param sessionPoolEndpoint string
@description('MODEL_REASONING_EFFORT (orchestrations/agents/model_config.py): empty for a model that does not reason.')
param modelReasoningEffort string
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048

// Who may call (issue 20). 'entra': App Service authentication with Entra ID in front of every endpoint (the
// built-in MCP server authorization of learn.microsoft.com/azure/app-service/configure-authentication-mcp), each
// person's jobs their own; 'keys': the function keys only, one person (every job is the key owner's).
@allowed(['entra', 'keys'])
param mcpAuth string = 'keys'
@description('Entra ID application (client) id of the registration (entra.bicep); empty with keys.')
param authClientId string = ''
@description('The registration\'s identifier URI: the audience of the access tokens; empty with keys.')
param authIdentifierUri string = ''
@description('The scope the protected resource metadata lists (api://.../user_impersonation); empty with keys.')
param authScope string = ''
@description('Client ids allowed to call besides the registration itself (pre-authorized clients, e.g. VS Code).')
param allowedClientIds array = []
@description('Value of the app role that sees and manages every job.')
param adminRole string = 'Jobs.Admin'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var appSettings = {
  // The Functions host's storage, reached with the identity (blobs; queues for the MCP extension's SSE backplane).
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // host.json: extensions.durableTask.storageProvider.connectionStringName and hubName %TASKHUB_NAME%.
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  TASKHUB_NAME: taskHubName
  // The model (orchestrations/model_config.py): Azure OpenAI with the identity, no key.
  AZURE_OPENAI_ENDPOINT: openAiEndpoint
  AZURE_OPENAI_DEPLOYMENT: openAiDeploymentName
  // The deployment is a reasoning model: its effort, and the request forms it takes (model_config.py).
  MODEL_REASONING_EFFORT: modelReasoningEffort
  // DefaultAzureCredential (model client, app data store) picks the user-assigned identity by this.
  AZURE_CLIENT_ID: identityClientId
  // The app's own data (orchestrations/app_storage.py): table `bookings`, blob container `workspaces`.
  APP_STORAGE__tableServiceUri: storage.properties.primaryEndpoints.table
  APP_STORAGE__blobServiceUri: storage.properties.primaryEndpoints.blob
  APP_STORAGE__clientId: identityClientId
  // The code swarm's generated tests (orchestrations/code_swarm/checks.py): Container Apps dynamic sessions.
  CHECK_SANDBOX: 'aca'
  ACA_SESSION_POOL_ENDPOINT: sessionPoolEndpoint
  // Code-swarm workspaces not written to for this many days are removed (tools/workspaces.py, hourly timer).
  WORKSPACE_RETENTION_DAYS: '30'
  // The app role whose holders see and manage every job (tools/caller.py; entra.bicep defines it).
  JOBS_ADMIN_ROLE: adminRole
}

// With Entra ID (mcpAuth 'entra'), read by the platform, not the app:
var signInSettings = {
  // Protected resource metadata (RFC 9728) at /.well-known/oauth-protected-resource, with this scope (preview).
  WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES: authScope
  // App Service authentication's client credential: the managed identity's federated credential (entra.bicep).
  OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: identityClientId
  WEBSITE_AUTH_AAD_ALLOWED_TENANTS: tenant().tenantId
  // host.json keeps the mcp_extension key for one person; signed-in callers need none (the same override
  // turns it off on the local host: host/functions/loader.with_host_overrides).
  AzureFunctionsJobHost__extensions__mcp__system__webhookAuthorizationLevel: 'Anonymous'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: mcpAuth == 'entra' ? union(appSettings, signInSettings) : appSettings
  }

  // App Service authentication (Easy Auth) with Entra ID, as the official MCP sample configures it
  // (Azure-Samples/remote-mcp-functions-python, infra/app/api.bicep): every request needs an Entra access token
  // for the registration (401 otherwise, with the protected resource metadata's address), and reaches the app
  // with the caller in X-MS-CLIENT-PRINCIPAL* headers. HTTP functions at the function level still take their
  // key as well (Azure/azure-functions-host#11394).
  resource signIn 'config' = if (mcpAuth == 'entra') {
    name: 'authsettingsV2'
    properties: {
      platform: {
        enabled: true
        runtimeVersion: '~1'
      }
      globalValidation: {
        requireAuthentication: true
        unauthenticatedClientAction: 'Return401'
        redirectToProvider: 'azureactivedirectory'
      }
      httpSettings: {
        requireHttps: true
        routes: {
          apiPrefix: '/.auth'
        }
        forwardProxy: {
          convention: 'NoProxy'
        }
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
            clientId: authClientId
            clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
          }
          validation: {
            allowedAudiences: [authIdentifierUri, authClientId]
            defaultAuthorizationPolicy: {
              allowedApplications: union([authClientId], allowedClientIds)
            }
          }
          isAutoProvisioned: false
        }
      }
      login: {
        tokenStore: {
          enabled: false
        }
      }
    }
  }
}

output name string = functionApp.name
output defaultHostname string = functionApp.properties.defaultHostName
