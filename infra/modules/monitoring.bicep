// Logs and traces. Application Insights takes no instrumentation-key ingestion (local auth off): the
// Function Apps, the worker and the job sign in with their identities, which hold Monitoring Metrics
// Publisher on it. The Container Apps environment sends its logs to the workspace through a diagnostic
// setting (worker.bicep).

param name string
param location string
param tags object = {}

@description('Principal ids allowed to send telemetry to Application Insights (Monitoring Metrics Publisher).')
param telemetryPublishers array = []

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

// Monitoring Metrics Publisher: what Entra-authenticated ingestion into Application Insights needs.
var metricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource publishers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in telemetryPublishers: {
  name: guid(insights.id, principalId, metricsPublisher)
  scope: insights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', metricsPublisher)
  }
}]

output workspaceId string = workspace.id
output appInsightsConnectionString string = insights.properties.ConnectionString
