// Azure resources for the durable agent jobs MCP server, deployed by `azd up` (azure.yaml).
// Layout and conventions follow Azure-Samples/remote-mcp-functions-python (infra/main.bicep) and the Durable
// Task Scheduler samples (Azure-Samples/Durable-Task-Scheduler, samples/durable-functions/python/*/infra).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. Each offers Flex Consumption, the Durable Task Scheduler and the Azure OpenAI Responses API the app calls (tests/data/azure_facts.json has the Responses API region list and its source); eastasia, northeurope and westus2 are left out: they have no Responses API.')
@allowed([
  'australiaeast'
  'eastus'
  'eastus2'
  'southcentralus'
  'southeastasia'
  'swedencentral'
  'uksouth'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person running azd: gets the Durable Task Scheduler dashboard and data roles.')
param principalId string = ''

@description('Type of principalId: User for a person, ServicePrincipal when azd runs as one. azd fills AZURE_PRINCIPAL_TYPE in main.parameters.json itself from how it is logged in (a client id: ServicePrincipal), whatever the azd environment says. A role assignment whose type does not match fails (UnmatchedPrincipalType).')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Python version of the function app. Must be one that requirements.txt installs on (3.10-3.13).')
@allowed(['3.10', '3.11', '3.12', '3.13'])
param pythonVersion string = '3.13'

@description('Resource id of an existing Azure OpenAI (or AI Services) account to use instead of creating one.')
param existingOpenAiResourceId string = ''

@description('Model deployment the agents call: created here, or an existing one on existingOpenAiResourceId.')
param openAiDeploymentName string = 'agents'

// The model and its version are set in ONE place: main.parameters.json (AZURE_OPENAI_MODEL,
// AZURE_OPENAI_MODEL_VERSION and their defaults). tests/test_infra.py checks the default against Azure's
// retirement table and the Responses API model list (tests/data/azure_facts.json).
@minLength(1)
@description('Model of the deployment created here (ignored with existingOpenAiResourceId): one that supports the Responses API and tool calling.')
param openAiModelName string

@minLength(1)
@description('Version of openAiModelName.')
param openAiModelVersion string

@description('Reasoning effort of every model call (the app setting MODEL_REASONING_EFFORT): the default model is a reasoning model; empty for a model that does not reason (an existing deployment of one).')
@allowed(['', 'none', 'minimal', 'low', 'medium', 'high', 'xhigh'])
param openAiReasoningEffort string

@description('Capacity of the deployment created here, in thousands of tokens per minute.')
param openAiCapacity int = 30

@description('Region of the Azure OpenAI account created here (model availability differs by region); empty: location. Only regions with the Responses API.')
@allowed([
  ''
  'australiaeast'
  'brazilsouth'
  'canadacentral'
  'canadaeast'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'norwayeast'
  'polandcentral'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'uksouth'
  'westus'
  'westus3'
])
param openAiLocation string = ''

@description('Region of the Container Apps session pool the code swarm runs generated tests in; empty: location.')
param sessionsLocation string = ''

@description('Who may call (issue 20): entra, a team signed in with Entra ID (each person sees their own jobs; an app registration is created, which needs a deployer allowed to create one); keys, one person with the function keys.')
@allowed(['entra', 'keys'])
param mcpAuth string = 'entra'

@description('With entra: comma-separated client ids pre-authorized to ask for tokens (default: VS Code).')
param preAuthorizedClientIds string = 'aebc6443-996d-45c2-90f0-388ff96faa56'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-${resourceToken}'
// Flex Consumption deploys from a blob container in the app's storage account (azd uploads the package there).
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var taskHubName = 'agentjobs'
var clientIds = map(filter(split(preAuthorizedClientIds, ','), id => !empty(trim(id))), id => trim(id))

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module scheduler 'app/durable-task-scheduler.bicep' = {
  name: 'scheduler'
  scope: rg
  params: {
    name: 'dts-${resourceToken}'
    taskHubName: taskHubName
    location: location
    tags: tags
  }
}

module openAi 'app/openai.bicep' = if (empty(existingOpenAiResourceId)) {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-${resourceToken}'
    location: empty(openAiLocation) ? location : openAiLocation
    tags: tags
    deploymentName: openAiDeploymentName
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    capacity: openAiCapacity
  }
}

// An existing account may live in another resource group or subscription: read its endpoint there.
// (With none named, the parts point at a placeholder in our own group, so the scope below still evaluates.)
var placeholderOpenAiId = '/subscriptions/${subscription().subscriptionId}/resourceGroups/rg-${environmentName}/providers/Microsoft.CognitiveServices/accounts/none'
var existingOpenAiParts = split(empty(existingOpenAiResourceId) ? placeholderOpenAiId : existingOpenAiResourceId, '/')
resource existingOpenAi 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = if (!empty(existingOpenAiResourceId)) {
  name: last(existingOpenAiParts)
  scope: resourceGroup(existingOpenAiParts[2], existingOpenAiParts[4])
}
var openAiEndpoint = empty(existingOpenAiResourceId) ? openAi!.outputs.endpoint : existingOpenAi!.properties.endpoint

module existingOpenAiAccess 'app/openai-access.bicep' = if (!empty(existingOpenAiResourceId)) {
  name: 'existing-openai-access'
  scope: resourceGroup(existingOpenAiParts[2], existingOpenAiParts[4])
  params: {
    accountName: last(existingOpenAiParts)
    principalId: identity.outputs.principalId
  }
}

module sessions 'app/sessions.bicep' = {
  name: 'sessions'
  scope: rg
  params: {
    name: 'sp-${resourceToken}'
    location: empty(sessionsLocation) ? location : sessionsLocation
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

// With entra: the app registration callers sign in to (Microsoft Graph Bicep extension, infra/bicepconfig.json).
// The function app's host name is known before it exists (Flex Consumption: <name>.azurewebsites.net), as in
// Azure-Samples/remote-mcp-functions-python.
module entra 'app/entra.bicep' = if (mcpAuth == 'entra') {
  name: 'entra'
  scope: rg
  params: {
    uniqueName: '${functionAppName}-mcp'
    displayName: 'Durable agent jobs MCP server (${functionAppName})'
    functionAppHostname: '${functionAppName}.azurewebsites.net'
    preAuthorizedClientIds: clientIds
    managedIdentityClientId: identity.outputs.clientId
    managedIdentityPrincipalId: identity.outputs.principalId
  }
}

module api 'app/function-app.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    pythonVersion: pythonVersion
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    schedulerEndpoint: scheduler.outputs.endpoint
    taskHubName: scheduler.outputs.taskHubName
    openAiEndpoint: openAiEndpoint
    openAiDeploymentName: openAiDeploymentName
    sessionPoolEndpoint: sessions.outputs.poolManagementEndpoint
    mcpAuth: mcpAuth
    authClientId: mcpAuth == 'entra' ? entra!.outputs.clientId : ''
    authIdentifierUri: mcpAuth == 'entra' ? entra!.outputs.identifierUri : ''
    authScope: mcpAuth == 'entra' ? entra!.outputs.scope : ''
    allowedClientIds: clientIds
    modelReasoningEffort: openAiReasoningEffort
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    schedulerName: scheduler.outputs.name
    openAiAccountName: empty(existingOpenAiResourceId) ? openAi!.outputs.name : ''
  }
}

// azd stores these in .azure/<env>/.env; the post-provision hook (scripts/postprovision.py) prints them for clients.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostname}'
output DURABLE_TASK_SCHEDULER_ENDPOINT string = scheduler.outputs.endpoint
output DURABLE_TASK_SCHEDULER_DASHBOARD_URL string = scheduler.outputs.dashboardUrl
output TASKHUB_NAME string = scheduler.outputs.taskHubName
output AZURE_OPENAI_ENDPOINT string = openAiEndpoint
output AZURE_OPENAI_DEPLOYMENT string = openAiDeploymentName
output ACA_SESSION_POOL_ENDPOINT string = sessions.outputs.poolManagementEndpoint
output MCP_AUTH string = mcpAuth
output AUTH_CLIENT_ID string = mcpAuth == 'entra' ? entra!.outputs.clientId : ''
output AUTH_SCOPE string = mcpAuth == 'entra' ? entra!.outputs.scope : ''
output JOBS_ADMIN_ROLE string = mcpAuth == 'entra' ? entra!.outputs.adminRole : ''
