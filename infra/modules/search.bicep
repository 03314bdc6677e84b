// The optional Azure AI Search service that holds a searchable catalog of the indexed images
// (main.bicep's searchCatalog). Identity only: local (API key) authentication is off, so the roles
// below, each on this service alone, are the only way in.

@description('Search service name (2-60 lowercase letters, digits and dashes).')
@minLength(2)
@maxLength(60)
param name string

param location string
param tags object = {}

@description('Roles on this service, by name: [{ principalId, role }].')
param grants array

// The built-in roles this module grants, by name (docs: Azure AI Search built-in roles).
var searchRoleIds = {
  'Search Index Data Reader': '1407120a-92aa-4202-b7e9-c0e197c71c8f'
  'Search Index Data Contributor': '8ebe5a00-799e-43f5-93ac-243d3dce84a7'
  'Search Service Contributor': '7ca78c08-252a-4471-8644-bb5ff32d4ba0'
}

resource service 'Microsoft.Search/searchServices@2025-05-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'basic' }
  properties: {
    replicaCount: 1
    partitionCount: 1
    disableLocalAuth: true
    publicNetworkAccess: 'enabled'
  }
}

resource roles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for g in grants: {
  name: guid(service.id, g.principalId, searchRoleIds[g.role])
  scope: service
  properties: {
    principalId: g.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', searchRoleIds[g.role])
  }
}]

output name string = service.name
output endpoint string = 'https://${service.name}.search.windows.net'
