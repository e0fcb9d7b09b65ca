// The code swarm's sandbox on Azure (orchestrations/code_swarm/aca_sessions.py): an Azure Container Apps dynamic
// sessions pool of Python code interpreters (Hyper-V isolated, no network egress), whose data plane the app's
// identity calls. As in the Azure Container Apps docs (sessions-code-interpreter, session-pool) and their samples:
// a PythonLTS pool needs no Container Apps environment. The identity gets "Azure ContainerApps Session Executor"
// and, as those docs ask of the caller, "Contributor", both on this pool only.
param name string
param location string
param tags object = {}
param identityPrincipalId string
@description('Sessions running at once: concurrent check runs across all jobs (each run is one session).')
param maxConcurrentSessions int = 20
@description('Seconds an idle session lives; the app deletes its sessions when a run ends (300-3600).')
@minValue(300)
@maxValue(3600)
param cooldownPeriodInSeconds int = 300

var roles = {
  sessionExecutor: '0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0' // Azure ContainerApps Session Executor: the data plane
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c' // asked of the caller with the executor role by the docs
}

resource pool 'Microsoft.App/sessionPools@2025-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    poolManagementType: 'Dynamic'
    containerType: 'PythonLTS'
    scaleConfiguration: {
      maxConcurrentSessions: maxConcurrentSessions
    }
    dynamicPoolConfiguration: {
      lifecycleConfiguration: {
        lifecycleType: 'Timed'
        cooldownPeriodInSeconds: cooldownPeriodInSeconds
      }
    }
    sessionNetworkConfiguration: {
      status: 'EgressDisabled'
    }
  }
}

resource executor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(pool.id, identityPrincipalId, roles.sessionExecutor)
  scope: pool
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.sessionExecutor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource contributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(pool.id, identityPrincipalId, roles.contributor)
  scope: pool
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.contributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = pool.name
output poolManagementEndpoint string = pool.properties.poolManagementEndpoint
