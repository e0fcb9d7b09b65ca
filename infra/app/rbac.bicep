// Role assignments: the app's identity gets only the data-plane roles it uses, each on the one resource it needs;
// the developer (principalId, from azd) gets the Durable Task Scheduler dashboard and read access to app data.
// Role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
param identityPrincipalId string
param userPrincipalId string = ''
@description('Type of userPrincipalId: User when a person runs azd, ServicePrincipal when CI does.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'
param storageAccountName string
param applicationInsightsName string
param schedulerName string
@description('Azure OpenAI account created by this template; empty when an existing one is used (main.bicep).')
param openAiAccountName string = ''

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // AzureWebJobsStorage with an identity needs Owner (leases, deployment package)
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // MCP extension SSE backplane queues
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // app data: table `bookings`
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // the developer: read workspaces and packages
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6' // the developer: read bookings
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Application Insights with Entra ID auth
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402' // run orchestrations; the dashboard
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = {
  name: schedulerName
}

resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Account scope, not the table alone: the app creates its table if it is missing (create_table), which a role
// scoped to the table itself would refuse.
resource appTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appScheduler 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler.id, identityPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

module appOpenAi 'openai-access.bicep' = if (!empty(openAiAccountName)) {
  name: 'openai-access'
  params: {
    accountName: openAiAccountName
    principalId: identityPrincipalId
  }
}

resource userScheduler 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(scheduler.id, userPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, roles.storageBlobDataReader)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, roles.storageTableDataReader)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataReader)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
