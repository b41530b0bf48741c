// A real OpenID provider (oidc-provider) for the ops server's sign-in tests, on a free port of
// 127.0.0.1. One confidential client; any login name signs in (oidc-provider's development
// interactions) and gets the claims below: `<name>` as preferred_username, the ops role and groups.
// Prints `{"issuer": ...}` once listening. Usage: node oidc-provider.mjs <redirect_uri> [role] [groups]
import { createServer } from 'node:net';
import Provider from 'oidc-provider';

const [redirectUri, role = 'approver', groups = 'finance'] = process.argv.slice(2);
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'ops',
      client_secret: 'ops-secret-0123456789',
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['preferred_username', 'ops_role', 'groups'] },
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ops_role: role, groups: groups.split(',').filter(Boolean) };
      },
    };
  },
});
provider.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ issuer })));
