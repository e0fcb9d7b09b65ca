// Cognitive Services OpenAI User on an Azure OpenAI account, for a principal: call models, nothing else.
// Its own module so that main.bicep can deploy it where an existing account lives.
param accountName string
param principalId string
param principalType string = 'ServicePrincipal'

var openAiUserRole = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, openAiUserRole)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUserRole)
    principalId: principalId
    principalType: principalType
  }
}
