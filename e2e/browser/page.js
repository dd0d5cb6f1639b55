// The page of the browser end-to-end test (e2e/browser_test.go): what a
// marketer's site does with Segment's browser library pointed at leadflow.
// Bundled with esbuild by the test; run from the page with
// window.leadflowVisit({...}).
import { AnalyticsBrowser } from '@segment/analytics-next'

window.leadflowVisit = async function (cfg) {
  const options = {}
  if (cfg.batching) {
    options.integrations = {
      'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 3, timeout: 300 } } },
    }
  }
  // cdnURL: the library loads its settings from leadflow
  // (<cdnURL>/v1/projects/<writeKey>/settings), which point it back at
  // leadflow's /v1.
  const [analytics] = await AnalyticsBrowser.load({ writeKey: cfg.writeKey, cdnURL: cfg.leadflowURL }, options)
  const errors = []
  analytics.on('error', (e) => errors.push(String(e && (e.reason || e.code))))

  // An anonymous visitor: a page view and a click on "request a demo".
  await analytics.page()
  await analytics.track('Demo Requested', { plan: 'pro' })
  const anonymousId = analytics.user().anonymousId()

  // They sign up: identify, then more activity as the known user.
  await analytics.identify(cfg.userId, { email: cfg.email, company: 'Acme' })
  await analytics.page()
  await analytics.track('Demo Requested', { plan: 'enterprise' })
  return { anonymousId, errors }
}

// The next visitor starts afresh (a new anonymous id).
window.leadflowReset = function () {
  localStorage.clear()
  document.cookie.split(';').forEach((c) => {
    document.cookie = c.split('=')[0].trim() + '=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/'
  })
}
