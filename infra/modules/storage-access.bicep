// What one identity may do in one storage account: each role is granted on a single blob container,
// queue or table, so a component reaches only what it uses. Roles on the whole account are for a
// Function App's own host account, where the Functions host makes its containers, queues and tables.
// Roles are named; only the data-plane roles below can be granted (no Owner, no key access).

@description('Object (principal) id of the identity that gets the roles.')
param principalId string

@description('Storage account the roles are in.')
param storageAccountName string

@description('Blob containers and the role on each: [{ name, role }].')
param containers array = []

@description('Queues and the role on each: [{ name, role }].')
param queues array = []

@description('Tables and the role on each: [{ name, role }].')
param tables array = []

@description('Roles on the whole account (a host account only): [ role ].')
param accountRoles array = []

// The built-in roles this module grants, by name (docs: Azure built-in roles for Storage).
var roleIds = {
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  'Storage Queue Data Reader': '19e7f393-937e-4f77-808e-94535e297925'
  'Storage Queue Data Message Sender': 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  'Storage Queue Data Message Processor': '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  'Storage Table Data Reader': '76199698-9eea-4c19-bc75-cec21354c6b6'
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for c in containers: {
  parent: blobService
  name: c.name
}]

resource storageQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [for q in queues: {
  parent: queueService
  name: q.name
}]

resource storageTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [for t in tables: {
  parent: tableService
  name: t.name
}]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (c, i) in containers: {
  name: guid(blobContainers[i].id, principalId, roleIds[c.role])
  scope: blobContainers[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[c.role])
  }
}]

resource queueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in queues: {
  name: guid(storageQueues[i].id, principalId, roleIds[q.role])
  scope: storageQueues[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[q.role])
  }
}]

resource tableRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (t, i) in tables: {
  name: guid(storageTables[i].id, principalId, roleIds[t.role])
  scope: storageTables[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[t.role])
  }
}]

resource accountAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in accountRoles: {
  name: guid(account.id, principalId, roleIds[role])
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[role])
  }
}]
