// The Microsoft Entra ID app registration that signs the team in (issue 20), made with the Microsoft Graph
// Bicep extension (bicepconfig.json), as Azure-Samples/remote-mcp-functions-python does (infra/app/entra.bicep):
// - the API callers ask tokens for: identifier URI api://<unique name>, scope user_impersonation (what
//   WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES lists in the protected resource metadata), v2 access tokens;
// - the app role adminRoleValue (default Jobs.Admin): people assigned to it (Enterprise applications > Users and
//   groups) see and manage every job; Entra puts it in the token's roles claim;
// - clients pre-authorized for the scope (VS Code's by default), so they need no consent prompt;
// - App Service authentication's redirect URI for browser sign-in (/.auth/login/aad/callback: the job view);
// - a federated identity credential for the function app's managed identity: App Service authentication proves
//   the app's identity with it (OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID), so there is no client secret to rotate.
// Deploying it needs a deployer allowed to create app registrations (Application Developer, or users may
// register applications in the tenant); `azd env set MCP_AUTH keys` deploys without it (one person, function keys).
extension microsoftGraphV1

@description('Unique name of the registration (idempotent redeploys update the same one).')
param uniqueName string

@description('Display name of the registration in Entra ID.')
param displayName string

@description('Host name of the function app, for App Service authentication\'s browser sign-in redirect.')
param functionAppHostname string

@description('Client ids pre-authorized for the scope (no consent prompt). VS Code: aebc6443-996d-45c2-90f0-388ff96faa56.')
param preAuthorizedClientIds array = []

@description('Value of the app role that sees and manages every job (the app reads it as JOBS_ADMIN_ROLE).')
param adminRoleValue string = 'Jobs.Admin'

@description('Client id of the function app\'s user-assigned managed identity (federated credential).')
param managedIdentityClientId string

@description('Principal (object) id of the function app\'s user-assigned managed identity.')
param managedIdentityPrincipalId string

@description('Who may sign in: AzureADMyOrg (this tenant) or AzureADMultipleOrgs.')
@allowed(['AzureADMyOrg', 'AzureADMultipleOrgs'])
param signInAudience string = 'AzureADMyOrg'

var scopeValue = 'user_impersonation'
var scopeId = guid(uniqueName, 'scope', scopeValue)
var adminRoleId = guid(uniqueName, 'app-role', adminRoleValue)
var identifierUri = 'api://${uniqueName}-${uniqueString(subscription().id, resourceGroup().id, uniqueName)}'

resource registration 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: signInAudience
  identifierUris: [identifierUri]
  api: {
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: scopeId
        value: scopeValue
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Use the durable agent jobs server'
        adminConsentDescription: 'Start, follow and steer your own durable agent jobs.'
        userConsentDisplayName: 'Use the durable agent jobs server'
        userConsentDescription: 'Start, follow and steer your own durable agent jobs.'
      }
    ]
    preAuthorizedApplications: [for clientId in preAuthorizedClientIds: {
      appId: clientId
      delegatedPermissionIds: [scopeId]
    }]
  }
  appRoles: [
    {
      id: adminRoleId
      value: adminRoleValue
      displayName: 'Jobs administrator'
      description: 'Sees and manages every person\'s jobs.'
      allowedMemberTypes: ['User']
      isEnabled: true
    }
  ]
  web: {
    redirectUris: ['https://${functionAppHostname}/.auth/login/aad/callback']
    implicitGrantSettings: {
      enableAccessTokenIssuance: false
      enableIdTokenIssuance: true
    }
  }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: registration.appId
}

resource federatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {
  name: '${registration.uniqueName}/function-app-identity'
  audiences: ['api://AzureADTokenExchange']
  issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
  subject: managedIdentityPrincipalId
  description: 'The function app\'s managed identity (${managedIdentityClientId}) as App Service authentication\'s client credential'
}

output clientId string = registration.appId
output identifierUri string = identifierUri
output scope string = '${identifierUri}/${scopeValue}'
output adminRole string = adminRoleValue
output servicePrincipalId string = servicePrincipal.id
