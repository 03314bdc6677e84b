// One user-assigned managed identity: each component runs as its own (query, intake, worker,
// trainer). It holds no role here; main.bicep grants each one its roles through storage-access.bicep
// (containers, queues and tables it uses) and monitoring.bicep (telemetry).

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
