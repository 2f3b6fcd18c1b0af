// SPDX-License-Identifier: Apache-2.0
// Tests of the post-login Action against stand-ins for Auth0's event and api objects (node --test).
'use strict';

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const action = require('./post-login.js');

const { onExecutePostLogin } = action;

const kCustomerId = 'cus_8F3k2';
const kEmail = 'jane.doe@example.com';

// Records what the Action asks of Auth0: the claims per token, and each deny reason.
function FakeApi() {
  const calls = { accessToken: {}, idToken: {}, denied: [] };
  const token = (claims) => ({
    setCustomClaim(name, value) {
      claims[name] = value;
      return api;
    },
  });
  const api = {
    accessToken: token(calls.accessToken),
    idToken: token(calls.idToken),
    access: {
      deny(reason) {
        calls.denied.push(reason);
        return api;
      },
    },
  };
  return { api, calls };
}

// A login event with the fields the Action reads; without `roles` it has no event.authorization.
function LoginEvent({ appMetadata, roles } = {}) {
  const user = { user_id: `auth0|${kCustomerId}`, email: kEmail };
  if (appMetadata !== undefined) user.app_metadata = appMetadata;
  const event = { user };
  if (roles !== undefined) event.authorization = { roles };
  return event;
}

function KycBridgeMetadata(overrides = {}) {
  return {
    customer_id: kCustomerId,
    kyc_status: 'VERIFIED',
    kyc_verified_at: '2026-11-22T10:00:00Z',
    provisioned_by: 'kyc-bridge',
    ...overrides,
  };
}

async function Run(event) {
  const { api, calls } = FakeApi();
  await onExecutePostLogin(event, api);
  return calls;
}

function AssertNoClaims(calls) {
  assert.deepEqual(calls.accessToken, {});
  assert.deepEqual(calls.idToken, {});
}

describe('post-login Action', () => {
  it('exports only the post-login handler', () => {
    assert.deepEqual(Object.keys(action), ['onExecutePostLogin']);
  });

  it('gives a customer its customer id and exact role names in both tokens', async () => {
    const roles = ['retail-customer', 'Premium Banking'];
    const calls = await Run(LoginEvent({ appMetadata: KycBridgeMetadata(), roles }));

    const expected = {
      'https://mockbank/customer_id': kCustomerId,
      'https://mockbank/roles': ['retail-customer', 'Premium Banking'],
    };
    assert.deepEqual(calls.accessToken, expected);
    assert.deepEqual(calls.idToken, expected);
    assert.deepEqual(calls.denied, []);
  });

  it('sets an empty roles claim when event.authorization is missing', async () => {
    const calls = await Run(LoginEvent({ appMetadata: KycBridgeMetadata() }));

    assert.deepEqual(calls.accessToken['https://mockbank/roles'], []);
    assert.deepEqual(calls.idToken['https://mockbank/roles'], []);
    assert.deepEqual(calls.denied, []);
  });

  it('sets an empty roles claim when event.authorization has no roles', async () => {
    const event = LoginEvent({ appMetadata: KycBridgeMetadata() });
    event.authorization = {};
    const calls = await Run(event);

    assert.deepEqual(calls.accessToken['https://mockbank/roles'], []);
    assert.deepEqual(calls.idToken['https://mockbank/roles'], []);
  });

  it('denies a revoked customer and sets no claim', async () => {
    const appMetadata = KycBridgeMetadata({ kyc_status: 'REVOKED' });
    const calls = await Run(LoginEvent({ appMetadata, roles: ['retail-customer'] }));

    assert.equal(calls.denied.length, 1);
    AssertNoClaims(calls);
  });

  it('denies a revoked user that kyc-bridge did not provision', async () => {
    const calls = await Run(LoginEvent({ appMetadata: { kyc_status: 'REVOKED' }, roles: [] }));

    assert.equal(calls.denied.length, 1);
    AssertNoClaims(calls);
  });

  for (const [what, customerId] of [['missing', undefined], ['empty', ''], ['not a string', 42]]) {
    it(`denies a kyc-bridge user whose customer id is ${what}`, async () => {
      const appMetadata = KycBridgeMetadata();
      if (customerId === undefined) delete appMetadata.customer_id;
      else appMetadata.customer_id = customerId;
      const calls = await Run(LoginEvent({ appMetadata, roles: ['retail-customer'] }));

      assert.equal(calls.denied.length, 1);
      AssertNoClaims(calls);
    });
  }

  it('lets a staff user (no marker, no customer id) in with roles and no customer id', async () => {
    const calls = await Run(LoginEvent({ appMetadata: { team: 'ops' }, roles: ['support-agent'] }));

    const expected = { 'https://mockbank/roles': ['support-agent'] };
    assert.deepEqual(calls.accessToken, expected);
    assert.deepEqual(calls.idToken, expected);
    assert.deepEqual(calls.denied, []);
  });

  it('treats a marker with another value as not provisioned by kyc-bridge', async () => {
    const appMetadata = { provisioned_by: 'legacy-import' };
    const calls = await Run(LoginEvent({ appMetadata, roles: ['support-agent'] }));

    assert.deepEqual(calls.denied, []);
    assert.deepEqual(calls.accessToken, { 'https://mockbank/roles': ['support-agent'] });
  });

  it('handles a user without app_metadata', async () => {
    const calls = await Run(LoginEvent({ roles: ['support-agent'] }));

    assert.deepEqual(calls.denied, []);
    assert.deepEqual(calls.accessToken, { 'https://mockbank/roles': ['support-agent'] });
    assert.deepEqual(calls.idToken, { 'https://mockbank/roles': ['support-agent'] });
  });

  it('sets only claims in the https://mockbank/ namespace', async () => {
    const calls = await Run(LoginEvent({ appMetadata: KycBridgeMetadata(), roles: ['a'] }));

    const names = [...Object.keys(calls.accessToken), ...Object.keys(calls.idToken)];
    assert.equal(names.length, 4);
    for (const name of names) assert.match(name, /^https:\/\/mockbank\/[a-z_]+$/);
  });

  it('gives deny reasons without the email or customer id of the event', async () => {
    const events = [
      LoginEvent({ appMetadata: KycBridgeMetadata({ kyc_status: 'REVOKED' }) }),
      LoginEvent({ appMetadata: KycBridgeMetadata({ customer_id: '' }) }),
    ];
    for (const event of events) {
      const calls = await Run(event);
      assert.equal(calls.denied.length, 1);
      const [reason] = calls.denied;
      assert.equal(typeof reason, 'string');
      assert.ok(reason.length > 0 && reason.length <= 100, `short reason: ${reason.length}`);
      assert.ok(!reason.toLowerCase().includes(kEmail), 'reason contains the email');
      assert.ok(!reason.includes(kCustomerId), 'reason contains the customer id');
      assert.ok(!reason.includes(event.user.user_id), 'reason contains the user id');
    }
  });
});
