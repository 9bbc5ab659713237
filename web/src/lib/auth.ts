// Getting into rooms that need a password or an invitation token: the token
// comes from the page address (?token=...), the password from a form when
// meetd answers `auth_required`. Both live in memory only, for the page's
// lifetime, so reconnects and rejoins reuse them without asking again.

/** Why meetd would not let us in until we say who we are. */
export interface AuthPrompt {
  code: 'auth_required' | 'bad_credentials';
  /** meetd's words. */
  message: string;
}

/** Whether an error code asks for a password or token. */
export function isAuthError(code: string): code is AuthPrompt['code'] {
  return code === 'auth_required' || code === 'bad_credentials';
}

/** The invitation token in a page's query string (`?token=...`), if any. */
export function tokenFromSearch(search: string): string | undefined {
  const token = new URLSearchParams(search).get('token')?.trim();
  return token ? token : undefined;
}

/** What a join sends to prove it may enter: a password or a token, or nothing. */
export class Credentials {
  private password: string | undefined;

  constructor(private token?: string) {}

  /** The fields to add to `join`. */
  get join(): { password?: string; token?: string } {
    if (this.password !== undefined) return { password: this.password };
    return this.token ? { token: this.token } : {};
  }

  /**
   * The person typed a password. meetd checks a token first, so a token it
   * refused is dropped and the password goes alone.
   */
  usePassword(password: string): void {
    this.password = password;
    this.token = undefined;
  }
}
