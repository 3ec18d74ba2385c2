import { Scope, type ApiKeyView } from '../../client/index.js';
import { choice, list, str } from '../args.js';
import type { Command } from '../context.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';

/** `drover keys create|list|revoke`: API keys, through an admin key. */

const ACTIONS = ['create', 'list', 'revoke'] as const;

function keyLine(k: ApiKeyView): string {
  const state = k.revoked_at ? `revoked ${k.revoked_at}` : `last used ${k.last_used_at ?? 'never'}`;
  return `${k.id}  ${k.tenant}  ${k.scopes.join(',')}  ${JSON.stringify(k.name)}  created ${k.created_at}  ${state}`;
}

export const keys: Command = {
  name: 'keys',
  summary: 'create, list or revoke API keys (needs an admin key)',
  usage: 'drover keys create --tenant T --name N --scope S... | drover keys list [--tenant T] | drover keys revoke ID',
  args: { min: 1, max: 2 },
  options: { tenant: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string', multiple: true } },
  help: `  create   a key for one tenant; the key is printed once (stdout), never again
           --tenant T   the tenant its batches and files belong to
           --name N     what it is for (shown by list)
           --scope S    ${Scope.options.join(' | ')}; repeat or separate with commas
  list     every key, or --tenant T's; never the key itself
  revoke   ID: the key stops working within a second

The admin key of a local \`npm run dev\` stack is found on its own (.data/admin-key);
elsewhere pass --api-key or set DROVER_API_KEY.

Examples
  drover keys create --tenant acme --name etl --scope batches:read,batches:write
  drover keys list --tenant acme
  drover keys revoke key_0123456789abcdef`,
  async run(ctx, { flags, positionals }) {
    const action = choice(positionals[0]!, ACTIONS, 'the action');
    if (action !== 'revoke' && positionals.length > 1)
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`, 'keys');
    if (action === 'create') {
      const tenant = str(flags, 'tenant');
      const name = str(flags, 'name');
      const scopes = list(flags, 'scope').flatMap((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      );
      if (!tenant) throw new UsageError('keys create needs --tenant', 'keys');
      if (!name) throw new UsageError('keys create needs --name', 'keys');
      if (scopes.length === 0) throw new UsageError(`keys create needs --scope (${Scope.options.join(', ')})`, 'keys');
      const created = await ctx.client.keys.create({
        tenant,
        name,
        scopes: scopes.map((s) => choice(s, Scope.options, '--scope')),
        signal: ctx.signal,
      });
      ctx.out.result(created, () => [created.key]);
      ctx.out.note(
        `${created.id} (tenant ${created.tenant}, ${created.scopes.join(', ')}): the key above is shown this once; keep it safe`,
      );
      return EXIT.ok;
    }
    if (action === 'list') {
      const page = await ctx.client.keys.list({ tenant: str(flags, 'tenant'), signal: ctx.signal });
      ctx.out.result(page, () => (page.data.length ? page.data.map(keyLine) : []));
      if (page.data.length === 0) ctx.out.note('no keys');
      return EXIT.ok;
    }
    const id = positionals[1];
    if (!id) throw new UsageError('keys revoke needs the key id (drover keys list shows them)', 'keys');
    const revoked = await ctx.client.keys.revoke(id, { signal: ctx.signal });
    ctx.out.result(revoked, () => [`${revoked.id}  revoked ${revoked.revoked_at}`]);
    return EXIT.ok;
  },
};
