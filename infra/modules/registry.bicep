// The container registry the worker app and the retraining job pull their images from (azd pushes
// them here). No admin user and no anonymous pull: the only way in is Entra ID, and the only roles
// granted here are AcrPull, on this registry, to the identities that run its images.

@description('Registry name (5-50 letters and digits).')
@minLength(5)
@maxLength(50)
param name string

param location string
param tags object = {}

@description('Principal ids allowed to pull images (AcrPull on this registry only).')
param pullers array = []

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

// AcrPull: reads images, pushes none.
var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource pullRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in pullers: {
  name: guid(registry.id, principalId, acrPull)
  scope: registry
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
  }
}]

output name string = registry.name
output loginServer string = registry.properties.loginServer
