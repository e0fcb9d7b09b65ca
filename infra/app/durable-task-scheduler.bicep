// The Durable Task Scheduler (Consumption SKU: billed per action, nothing at rest) and the task hub the app's
// orchestrations run in. host.json selects it: storageProvider type `azureManaged`, connection
// DURABLE_TASK_SCHEDULER_CONNECTION_STRING, hubName %TASKHUB_NAME%. As in Azure-Samples/Durable-Task-Scheduler
// (samples/durable-functions/python/pdf-summarizer/infra/app/dts.bicep).
param name string
param taskHubName string
param location string
param tags object = {}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    sku: {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskhubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

output name string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
output dashboardUrl string = taskHub.properties.dashboardUrl // needs Durable Task Data Contributor (rbac.bicep)
