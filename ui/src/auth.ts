// MLflow's basic-auth app (`--app-name basic-auth`): who is signed in, users and their
// permissions. Pure helpers here are unit-tested; the calls go through api.ts, so they
// stay on this origin.

import { signal } from '@preact/signals';
import { ApiError, del, get, get3, patch, post, post3, sameOrigin } from './api';

export interface User {
  id: number;
  username: string;
  is_admin: boolean;
  roles?: unknown[];
}
export type ResourceType = 'experiment' | 'registered_model';
export const PERMISSIONS = ['READ', 'USE', 'EDIT', 'MANAGE', 'DENY'] as const;
export type Permission = (typeof PERMISSIONS)[number];
export interface PermissionRow {
  role_id: number;
  role_name: string;
  workspace?: string;
  resource_type: string;
  resource_pattern: string;
  permission: string;
}

/** MLflow's minimum password length (the server checks it too). */
export const MIN_PASSWORD = 12;

/** What is wrong with a new password, or undefined when it may be sent. */
export function passwordProblem(password: string, confirm?: string): string | undefined {
  if (password.length < MIN_PASSWORD) return `Password must be at least ${MIN_PASSWORD} characters.`;
  if (confirm !== undefined && password !== confirm) return 'The two new passwords differ.';
  return undefined;
}

/** The role holding a user's own direct grants (the server names it so). */
export const userRoleName = (id: number) => `__user_${id}__`;

export interface PermissionGroup {
  /** The role's name, or "Direct" for the user's own grants. */
  title: string;
  direct: boolean;
  rows: PermissionRow[];
}

const TYPE_ORDER: Record<string, number> = { experiment: 0, registered_model: 1 };

/**
 * Permission rows grouped by role: the user's direct grants first (they are what the
 * revoke button can take away), then roles by name; in a group, by resource type, then
 * resource (numerically when both are numbers, so experiment 10 follows 9).
 */
export function groupPermissions(rows: PermissionRow[], userId?: number): PermissionGroup[] {
  const own = userId === undefined ? undefined : userRoleName(userId);
  const isDirect = (r: PermissionRow) => (own !== undefined ? r.role_name === own : /^__user_\d+__$/.test(r.role_name));
  const byRole = new Map<string, PermissionRow[]>();
  for (const r of rows) {
    const key = isDirect(r) ? '' : r.role_name;
    (byRole.get(key) ?? byRole.set(key, []).get(key)!).push(r);
  }
  const cmp = (a: PermissionRow, b: PermissionRow) =>
    (TYPE_ORDER[a.resource_type] ?? 9) - (TYPE_ORDER[b.resource_type] ?? 9) ||
    a.resource_type.localeCompare(b.resource_type) ||
    a.resource_pattern.localeCompare(b.resource_pattern, undefined, { numeric: true });
  return [...byRole.entries()]
    .sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))
    .map(([name, rs]) => ({ title: name === '' ? 'Direct' : name, direct: name === '', rows: rs.slice().sort(cmp) }));
}

export const typeLabel = (t: string) => (t === 'registered_model' ? 'Registered model' : t === 'experiment' ? 'Experiment' : t);

/**
 * The signed-in user: undefined while asking, null when the server runs without auth
 * (the route does not exist) or the question failed — then the UI shows no account UI.
 */
export const currentUser = signal<User | null | undefined>(undefined);

/** Asks the server once who is signed in; answers null without auth. */
export async function loadCurrentUser(): Promise<User | null> {
  try {
    const r = await get<{ is_basic_auth?: boolean; user?: User }>('users/current');
    currentUser.value = r.is_basic_auth && r.user ? r.user : null;
  } catch (e) {
    // 404: no auth app on this server. Anything else: no account UI rather than a broken one.
    if (!(e instanceof ApiError)) throw e;
    currentUser.value = null;
  }
  return currentUser.value;
}

export const listUsers = () => get<{ users?: User[] }>('users/list').then((r) => r.users ?? []);
export const createUser = (username: string, password: string) => post('users/create', { username, password });
export const updatePassword = (username: string, password: string, current_password?: string) =>
  patch('users/update-password', { username, password, current_password });
export const updateAdmin = (username: string, is_admin: boolean) => patch('users/update-admin', { username, is_admin });
export const deleteUser = (username: string) => del('users/delete', { username });
export const listPermissions = (username: string) =>
  get3<{ is_admin?: boolean; permissions?: PermissionRow[] }>('users/permissions/list', { username });
export const grantPermission = (username: string, resource_type: ResourceType, resource_id: string, permission: Permission) =>
  post3('users/permissions/grant', { username, resource_type, resource_id, permission });
export const revokePermission = (username: string, resource_type: string, resource_id: string) =>
  post3('users/permissions/revoke', { username, resource_type, resource_id });

/**
 * Signing out of HTTP basic auth: browsers keep the credentials for the session and offer
 * no API to forget them. The usual trick is a request with deliberately wrong credentials
 * for the same realm; Chromium and Firefox then replace the cached ones. It is a
 * convention, not a guarantee, so the UI says what to do when it did not work.
 */
export async function signOut(): Promise<void> {
  await fetch(sameOrigin('ajax-api/2.0/mlflow/users/current'), {
    credentials: 'same-origin',
    headers: { Authorization: 'Basic ' + btoa('signed-out:' + Date.now()) },
    cache: 'no-store',
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
}
