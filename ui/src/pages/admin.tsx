// #/admin: users and their permissions (MLflow's basic-auth app). Admins only; the
// server enforces that too, the page only spares others a form that would be refused.

import { useEffect, useState } from 'preact/hooks';
import { get, post, type Experiment, type RegisteredModel } from '../api';
import {
  createUser,
  currentUser,
  deleteUser,
  grantPermission,
  groupPermissions,
  listPermissions,
  listUsers,
  passwordProblem,
  PERMISSIONS,
  revokePermission,
  typeLabel,
  updateAdmin,
  updatePassword,
  type Permission,
  type ResourceType,
  type User,
} from '../auth';
import { Dialog, ErrorBox, Loading, message, Show, useLoad } from '../ui';

/** The outcome of the last action, shown at the top of the page: never silent. */
type Outcome = { ok: string } | { error: string } | undefined;

function OutcomeBox({ outcome }: { outcome: Outcome }) {
  if (!outcome) return null;
  if ('error' in outcome) return <ErrorBox error={outcome.error} />;
  return (
    <div class="success" role="status">
      {outcome.ok}
    </div>
  );
}

export function AdminPage() {
  const me = currentUser.value;
  if (me === undefined) return <Loading what="the signed-in user" />;
  if (me === null) {
    // Also when the server could not say who is signed in: the page has nothing to offer then.
    return <div class="notice">This server runs without authentication (or could not say who is signed in), so there are no users to manage.</div>;
  }
  if (!me.is_admin) {
    return (
      <div class="notice" role="alert">
        Only administrators can manage users.
      </div>
    );
  }
  return <Admin me={me} />;
}

function Admin({ me }: { me: User }) {
  const users = useLoad(listUsers, []);
  const [outcome, setOutcome] = useState<Outcome>();
  const [selected, setSelected] = useState<string>();
  const [resetting, setResetting] = useState<string>();
  // Admin flags just changed, shown until the reloaded list has them: without this the
  // checkbox would flip back to the old list's value in between.
  const [adminNow, setAdminNow] = useState<Record<string, boolean>>({});
  useEffect(() => setAdminNow({}), [users.data]);
  /** Runs an action; its result or the server's message lands in the outcome box. */
  const act = async (ok: string, f: () => Promise<unknown>) => {
    try {
      await f();
      setOutcome({ ok });
      return true;
    } catch (e) {
      setOutcome({ error: message(e) });
      return false;
    }
  };
  const selectedUser = users.data?.find((u) => u.username === selected);
  return (
    <section>
      <div class="page-head">
        <h1>Users &amp; permissions</h1>
      </div>
      <OutcomeBox outcome={outcome} />
      <CreateUser act={act} onCreated={users.reload} />
      <h2>Users</h2>
      <Show load={users} what="users">
        {(list) => (
          <table class="list" data-testid="users">
            <thead>
              <tr>
                <th>Username</th>
                <th>Admin</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((u) => (
                <tr key={u.username} class={u.username === selected ? 'selected' : ''}>
                  <td>{u.username}</td>
                  <td>
                    <label class="check">
                      <input
                        type="checkbox"
                        aria-label={`${u.username} is admin`}
                        checked={adminNow[u.username] ?? u.is_admin}
                        disabled={u.username === me.username}
                        title={u.username === me.username ? 'You cannot change your own admin flag here.' : undefined}
                        onChange={async (e) => {
                          const to = e.currentTarget.checked;
                          const box = e.currentTarget;
                          const done = await act(`${u.username} is ${to ? 'now' : 'no longer'} an admin.`, async () => {
                            await updateAdmin(u.username, to);
                            setAdminNow((m) => ({ ...m, [u.username]: to }));
                          });
                          if (done) {
                            users.reload();
                          } else {
                            box.checked = !to; // refused: the box shows what the server has
                          }
                        }}
                      />
                      {adminNow[u.username] ?? u.is_admin ? 'yes' : 'no'}
                    </label>
                  </td>
                  <td>
                    <div class="actions">
                      <button onClick={() => setSelected(u.username)}>Permissions</button>
                      <button onClick={() => setResetting(u.username)}>Reset password</button>
                      <button
                        class="danger"
                        disabled={u.username === me.username}
                        onClick={async () => {
                          if (!confirm(`Delete user ${u.username}? Their permissions go with them.`)) return;
                          if (await act(`Deleted ${u.username}.`, () => deleteUser(u.username))) {
                            if (selected === u.username) setSelected(undefined);
                            users.reload();
                          }
                        }}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      {selectedUser && <Permissions key={selectedUser.username} user={selectedUser} act={act} />}
      {resetting && <ResetPassword username={resetting} act={act} onClose={() => setResetting(undefined)} />}
    </section>
  );
}

type Act = (ok: string, f: () => Promise<unknown>) => Promise<boolean>;

function CreateUser({ act, onCreated }: { act: Act; onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState<string>();
  return (
    <form
      class="row"
      aria-label="Create user"
      onSubmit={async (e) => {
        e.preventDefault();
        const p = username.trim() ? passwordProblem(password) : 'Enter a username.';
        setProblem(p);
        if (p) return;
        if (await act(`Created user ${username.trim()}.`, () => createUser(username.trim(), password))) {
          setUsername('');
          setPassword('');
          onCreated();
        }
      }}
    >
      <strong>Create user</strong>
      <input aria-label="New username" placeholder="Username" autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
      <input type="password" aria-label="New user's password" placeholder="Password (12+ characters)" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <button type="submit" class="primary">
        Create user
      </button>
      {problem && <ErrorBox error={problem} />}
    </form>
  );
}

/** An admin sets someone's password; the server does not ask for the old one then. */
function ResetPassword({ username, act, onClose }: { username: string; act: Act; onClose: () => void }) {
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState<string>();
  return (
    <Dialog title={`Reset password of ${username}`} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const p = passwordProblem(password);
          setProblem(p);
          if (p) return;
          await act(`Set a new password for ${username}.`, () => updatePassword(username, password));
          onClose();
        }}
      >
        <label class="field">
          New password
          <input type="password" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {problem && <ErrorBox error={problem} />}
        <div class="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Set password
          </button>
        </div>
      </form>
    </Dialog>
  );
}

interface Resource {
  id: string;
  label: string;
}

async function resources(type: ResourceType): Promise<Resource[]> {
  if (type === 'experiment') {
    const r = await post<{ experiments?: Experiment[] }>('experiments/search', { max_results: 1000, order_by: ['name ASC'] });
    return (r.experiments ?? []).map((e) => ({ id: e.experiment_id, label: `${e.name} (${e.experiment_id})` }));
  }
  const r = await get<{ registered_models?: RegisteredModel[] }>('registered-models/search', { max_results: 1000, order_by: ['name ASC'] });
  return (r.registered_models ?? []).map((m) => ({ id: m.name, label: m.name }));
}

function Permissions({ user, act }: { user: User; act: Act }) {
  const perms = useLoad(() => listPermissions(user.username), [user.username]);
  const [type, setType] = useState<ResourceType>('experiment');
  const [resource, setResource] = useState('');
  const [permission, setPermission] = useState<Permission>('READ');
  const choices = useLoad(() => resources(type), [type]);
  const chosen = resource || choices.data?.[0]?.id || '';
  return (
    <div data-testid="permissions">
      <h2>Permissions of {user.username}</h2>
      {user.is_admin && <div class="notice">{user.username} is an admin: admins may do anything, whatever is granted here.</div>}
      <form
        class="row"
        aria-label="Grant permission"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!chosen) return;
          const what = `${typeLabel(type).toLowerCase()} ${choices.data?.find((c) => c.id === chosen)?.label ?? chosen}`;
          if (await act(`Granted ${permission} on ${what} to ${user.username}.`, () => grantPermission(user.username, type, chosen, permission))) {
            perms.reload();
          }
        }}
      >
        <strong>Grant</strong>
        <select
          aria-label="Resource type"
          value={type}
          onChange={(e) => {
            setType(e.currentTarget.value as ResourceType);
            setResource('');
          }}
        >
          <option value="experiment">Experiment</option>
          <option value="registered_model">Registered model</option>
        </select>
        {choices.error ? (
          <ErrorBox error={choices.error} />
        ) : (
          <select aria-label="Resource" value={chosen} disabled={!choices.data?.length} onChange={(e) => setResource(e.currentTarget.value)}>
            {choices.data === undefined && <option value="">Loading…</option>}
            {choices.data?.length === 0 && <option value="">None</option>}
            {choices.data?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.label}
              </option>
            ))}
          </select>
        )}
        <select aria-label="Permission" value={permission} onChange={(e) => setPermission(e.currentTarget.value as Permission)}>
          {PERMISSIONS.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <button type="submit" class="primary" disabled={!chosen}>
          Grant
        </button>
      </form>
      <Show load={perms} what="permissions">
        {(r) => {
          const groups = groupPermissions(r.permissions ?? [], user.id);
          if (groups.length === 0) return <p class="muted">No permissions granted; the server's default permission applies.</p>;
          return (
            <table class="list" data-testid="permission-rows">
              <thead>
                <tr>
                  <th>Resource type</th>
                  <th>Resource</th>
                  <th>Permission</th>
                  <th>From</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {groups.flatMap((g) =>
                  g.rows.map((p) => (
                    <tr key={`${p.role_id}/${p.resource_type}/${p.resource_pattern}`}>
                      <td>{typeLabel(p.resource_type)}</td>
                      <td class="mono">{p.resource_pattern}</td>
                      <td>{p.permission}</td>
                      <td>{g.direct ? 'direct' : `role ${g.title}`}</td>
                      <td>
                        {g.direct && (
                          <button
                            class="danger"
                            onClick={async () => {
                              if (await act(`Revoked ${p.permission} on ${p.resource_pattern} from ${user.username}.`, () => revokePermission(user.username, p.resource_type, p.resource_pattern))) {
                                perms.reload();
                              }
                            }}
                          >
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          );
        }}
      </Show>
    </div>
  );
}
