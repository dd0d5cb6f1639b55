// Package egress fences and signs leadflow's outbound HTTP calls (CRM task
// deliveries and webhook steps).
//
//   - allow.go: which destinations are allowed. Loopback, private, link-local,
//     cloud-metadata, multicast, unspecified and other non-public addresses
//     are refused unless the operator lists them in LEADFLOW_WEBHOOK_ALLOW.
//   - dialer.go: the check runs on the address actually dialled (after DNS
//     resolution, at connect time), so a name that resolves to a refused
//     address — or re-resolves to one (DNS rebinding) — cannot get through.
//     Proxies from the environment are not used and redirects are not followed.
//   - sign.go: Standard Webhooks signatures (webhook-id, webhook-timestamp,
//     webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">).
//   - redact.go: secrets in URLs (userinfo, token-like query parameters,
//     webhook paths of known services) never reach logs or stored errors.
//
// The package does no I/O of its own beyond the connections it is asked to
// make, and knows nothing of the store or of Temporal.
package egress
