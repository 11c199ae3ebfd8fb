/**
 * What browser SDKs fetch at load from their vendor's CDN or control plane, served by the
 * collector so that a page needs no third-party host: each points the SDK's delivery at the
 * collector and enables no device-mode destination.
 */

/** analytics.js's `/v1/projects/<writeKey>/settings`: the Segment.io destination sends to `apiHost`. */
export function segmentSettings(key: string, apiHost: string, protocol: string): Record<string, unknown> {
  return {
    integrations: { 'Segment.io': { apiKey: key, apiHost, protocol, unbundledIntegrations: [], addBundledMetadata: false } },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    remotePlugins: [],
  };
}

/** RudderStack's `/sourceConfig`: the source enabled, its events to the data plane URL the page loads it with, nothing reported back. */
export function rudderStackSourceConfig(key: string, source: string): Record<string, unknown> {
  return {
    isHosted: true,
    source: {
      id: source,
      name: source,
      writeKey: key,
      enabled: true,
      workspaceId: 'c360',
      config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    },
  };
}
