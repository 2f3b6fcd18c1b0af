// SPDX-License-Identifier: Apache-2.0
// Auth0 post-login Action: the kyc-bridge customer id and role names as token claims; refuses
// revoked customers and kyc-bridge users without a customer id. Node 18 runtime, no packages.
//
// Auth0 API relied on (docs: customize/actions/reference/post-login/post-login-event-object and
// post-login-api-object):
// - event.user.app_metadata: what kyc-bridge wrote; event.authorization (optional).roles: the
//   names of the user's assigned roles.
// - api.accessToken.setCustomClaim(name, value), api.idToken.setCustomClaim(name, value).
// - api.access.deny(reason): the login fails and `reason` goes to the application as
//   error_description, so it is fixed text, never personal data. The flow stops only once this
//   Action completes, so it returns right after deny and sets no claim.
// The trigger also runs when a refresh token is exchanged, so a revoked customer cannot refresh.

// The API's claim namespace: must match the namespace in config/tenant.toml. Without one, `roles`
// would be a reserved claim that Auth0 silently drops (docs: secure/tokens/json-web-tokens/
// create-custom-claims; troubleshoot/product-lifecycle/past-migrations/custom-claims-migration).
const NAMESPACE = 'https://mockbank';

// What kyc-bridge writes into app_metadata when it creates a user: kMarkerKey / kMarkerValue in
// include/kyc_bridge/provision/job_runner.hpp, the other keys in JobRunner::DesiredAppMetadata.
const MARKER_KEY = 'provisioned_by';
const MARKER_VALUE = 'kyc-bridge';
const REVOKED = 'REVOKED';

const DENY_REVOKED = 'Access to this account has been revoked.';
const DENY_INCOMPLETE = 'This account is not fully set up yet. Please contact support.';

function customerIdOf(metadata) {
  const id = metadata.customer_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function roleNamesOf(event) {
  const roles = event.authorization && event.authorization.roles;
  return Array.isArray(roles) ? roles : [];
}

exports.onExecutePostLogin = async (event, api) => {
  const metadata = (event.user && event.user.app_metadata) || {};
  const customerId = customerIdOf(metadata);

  if (metadata.kyc_status === REVOKED) {
    api.access.deny(DENY_REVOKED);
    return;
  }
  if (metadata[MARKER_KEY] === MARKER_VALUE && customerId === undefined) {
    api.access.deny(DENY_INCOMPLETE);
    return;
  }

  const roles = roleNamesOf(event);
  for (const token of [api.accessToken, api.idToken]) {
    // A user kyc-bridge did not provision (staff) has no customer id and gets no such claim.
    if (customerId !== undefined) token.setCustomClaim(`${NAMESPACE}/customer_id`, customerId);
    token.setCustomClaim(`${NAMESPACE}/roles`, roles);
  }
};
