// DPQ Serverless: the whole deployment. Today: storage and the managed identity with its roles.
// The Function App (Flex Consumption), the Event Grid subscription and the GPU worker (Container
// Apps) are added as those parts land; their connection settings are identity-based, named
// `<Connection>__blobServiceUri`, `__queueServiceUri`, `__tableServiceUri`, `__credential`, `__clientId`.
targetScope = 'resourceGroup'

@description('Short name of the environment, used in resource names (e.g. dev, prod).')
@minLength(2)
@maxLength(10)
param environmentName string

@description('Azure region for every resource.')
param location string = resourceGroup().location

var suffix = uniqueString(resourceGroup().id, environmentName)
var tags = { 'azd-env-name': environmentName, application: 'dpq-serverless' }

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('dpq${toLower(environmentName)}${suffix}', 24)
    location: location
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-dpq-${environmentName}-${suffix}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

// The names the apps use for an identity-based connection called "DpqStorage".
output DPQSTORAGE__blobServiceUri string = storage.outputs.blobEndpoint
output DPQSTORAGE__queueServiceUri string = storage.outputs.queueEndpoint
output DPQSTORAGE__tableServiceUri string = storage.outputs.tableEndpoint
output DPQSTORAGE__clientId string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
