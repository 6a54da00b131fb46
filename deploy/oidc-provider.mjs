// A real OpenID provider (npm `oidc-provider`) for the single sign-on tests, on 127.0.0.1 only.
// deploy/stack.sh copies this next to its node_modules and runs it.
//
// Accounts need no setup: the login name typed on the dev login page *is* the account, as
// `subject|email|verified|name` (e.g. `u1|ann@example.com|yes|Ann`), so a test decides which
// claims it gets. The email and email_verified claims come from userinfo (the ID token carries
// only `sub`, as the provider's default conformance mode does).
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.HELPDESK_STACK_OIDC_PORT || 55090);
const issuer = `http://127.0.0.1:${port}`;

const configuration = {
  clients: [
    {
      client_id: 'helpdesk-test',
      client_secret: 'helpdesk-test-secret',
      // The second is the same provider used as a plain OAuth 2.0 one (configured endpoints).
      redirect_uris: [
        'http://127.0.0.1:8080/api/v1/sso/test-oidc/callback',
        'http://127.0.0.1:8080/api/v1/sso/test-oauth2/callback',
      ],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile'],
  cookies: { keys: ['helpdesk-test-provider-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const [subject, email, verified, name] = String(id).split('|');
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, name: name || subject };
        if (email) {
          claims.email = email;
          claims.email_verified = verified === 'yes';
        }
        return claims;
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
http.createServer(provider.callback()).listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
