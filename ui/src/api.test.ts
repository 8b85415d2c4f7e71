import { describe, expect, it } from 'vitest';
import { API3, apiUrl, artifactUrl, loggedModelFileUrl, sameOrigin } from './api';

/** True when `url` resolves against any page to that page's own origin. */
function staysOnOrigin(url: string): boolean {
  for (const page of ['http://127.0.0.1:5000/', 'https://example.org/mlflow/sub/']) {
    if (new URL(url, page).origin !== new URL(page).origin) return false;
  }
  return !/^[a-z][a-z0-9+.-]*:/i.test(url) && !url.startsWith('/');
}

describe('API URLs', () => {
  it('are relative to the page for every method and prefix', () => {
    const urls = [
      apiUrl('GET', 'users/current'),
      apiUrl('GET', 'experiments/search', { filter: "name = 'http://evil.example/'", x: ['//evil', 'a b'] }),
      apiUrl('POST', 'users/create', { username: 'https://evil.example' }),
      apiUrl('GET', 'users/permissions/list', { username: '//evil.example' }, API3),
      artifactUrl('run', 'http://evil.example/x'),
      loggedModelFileUrl('//evil.example', 'a'),
    ];
    for (const u of urls) expect(staysOnOrigin(u), u).toBe(true);
    expect(apiUrl('GET', 'users/current')).toBe('ajax-api/2.0/mlflow/users/current');
    expect(apiUrl('GET', 'users/permissions/get', { username: 'bob' }, API3)).toBe('ajax-api/3.0/mlflow/users/permissions/get?username=bob');
  });
  it('refuses anything with a scheme or a host', () => {
    for (const bad of ['http://evil.example/api', 'HTTPS://x', 'javascript:alert(1)', '//evil.example/x', '\\\\evil.example', '/\\evil.example', '\\/evil']) {
      expect(() => sameOrigin(bad), bad).toThrow(/stay on this server/);
    }
    expect(sameOrigin('ajax-api/2.0/mlflow/x?u=http://a')).toBe('ajax-api/2.0/mlflow/x?u=http://a');
  });
});
