import { describe, expect, it } from 'vitest';
import { groupPermissions, passwordProblem, type PermissionRow } from './auth';

describe('passwordProblem', () => {
  it('wants 12 characters, like MLflow', () => {
    expect(passwordProblem('short')).toMatch(/at least 12/);
    expect(passwordProblem('x'.repeat(11))).toMatch(/at least 12/);
    expect(passwordProblem('x'.repeat(12))).toBeUndefined();
  });
  it('checks the confirmation when given', () => {
    expect(passwordProblem('a-long-password', 'a-long-passw0rd')).toMatch(/differ/);
    expect(passwordProblem('a-long-password', 'a-long-password')).toBeUndefined();
    // The length rule is reported first: it is the one the server would answer.
    expect(passwordProblem('short', 'other')).toMatch(/at least 12/);
  });
});

describe('groupPermissions', () => {
  const row = (role_name: string, resource_type: string, resource_pattern: string, permission = 'READ'): PermissionRow => ({
    role_id: role_name.length,
    role_name,
    resource_type,
    resource_pattern,
    permission,
  });
  it('puts the user’s direct grants first, then roles by name, rows by type then resource', () => {
    const groups = groupPermissions(
      [
        row('readers', 'experiment', '3'),
        row('__user_7__', 'registered_model', 'wine'),
        row('__user_7__', 'experiment', '10'),
        row('__user_7__', 'experiment', '9'),
        row('analysts', 'experiment', '1'),
      ],
      7,
    );
    expect(groups.map((g) => g.title)).toEqual(['Direct', 'analysts', 'readers']);
    expect(groups[0].direct).toBe(true);
    expect(groups[0].rows.map((r) => r.resource_pattern)).toEqual(['9', '10', 'wine']);
  });
  it('does not take another user’s role for the direct one', () => {
    const groups = groupPermissions([row('__user_8__', 'experiment', '1')], 7);
    expect(groups).toEqual([{ title: '__user_8__', direct: false, rows: [row('__user_8__', 'experiment', '1')] }]);
  });
  it('is empty without rows', () => expect(groupPermissions([], 1)).toEqual([]));
});
