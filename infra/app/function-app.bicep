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
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048

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
    properties: appSettings
  }
}

output name string = functionApp.name
output defaultHostname string = functionApp.properties.defaultHostName
