// The header's account badge: shown only when the server runs MLflow's basic-auth app.

import { useEffect, useState } from 'preact/hooks';
import { currentUser, loadCurrentUser, passwordProblem, signOut, updatePassword, type User } from './auth';
import { href } from './route';
import { Dialog, ErrorBox, useAction } from './ui';

export function AccountBadge() {
  const [changing, setChanging] = useState(false);
  const [signedOut, setSignedOut] = useState(false);
  useEffect(() => {
    // Failures are already "no auth" inside; nothing else may reach the console.
    loadCurrentUser().catch(() => (currentUser.value = null));
  }, []);
  const user = currentUser.value;
  if (!user) return null;
  if (signedOut) {
    return (
      <div class="account" role="status">
        Signed out. Reload the page to sign in again.{' '}
        <span class="muted small">(If the page opens without asking, your browser kept the credentials: close all its windows.)</span>
      </div>
    );
  }
  return (
    <div class="account" data-testid="account">
      <span>
        Signed in as <strong>{user.username}</strong>
        {user.is_admin && <span class="badge">admin</span>}
      </span>
      {user.is_admin && <a href={href.admin()}>Users &amp; permissions</a>}
      <button class="link" onClick={() => setChanging(true)}>
        Change password
      </button>
      <button
        class="link"
        onClick={async () => {
          await signOut();
          setSignedOut(true);
        }}
      >
        Sign out
      </button>
      {changing && <ChangePassword user={user} onClose={() => setChanging(false)} />}
    </div>
  );
}

/** The signed-in user changes their own password; the server wants the current one. */
function ChangePassword({ user, onClose }: { user: User; onClose: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [problem, setProblem] = useState<string>();
  const [done, setDone] = useState(false);
  const action = useAction();
  return (
    <Dialog title="Change password" onClose={onClose}>
      {done ? (
        <>
          <div class="success" role="status">
            Password changed. Your browser may ask you to sign in again with the new one.
          </div>
          <div class="row end">
            <button onClick={onClose}>Close</button>
          </div>
        </>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            const p = passwordProblem(next, confirm);
            setProblem(p);
            if (p) return;
            if (await action.run(() => updatePassword(user.username, next, current))) setDone(true);
          }}
        >
          <label class="field">
            Current password
            <input type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
          </label>
          <label class="field">
            New password
            <input type="password" autocomplete="new-password" required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
          </label>
          <label class="field">
            Confirm new password
            <input type="password" autocomplete="new-password" required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
          </label>
          {(problem || action.error) && <ErrorBox error={(problem || action.error)!} />}
          <div class="row end">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={action.busy}>
              Change password
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
