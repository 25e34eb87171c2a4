// The client's credentials: the held token, the provider that renews it, when it is due, and the
// token the relay refused as expired (close 4001), which must not be offered again.
import { refreshDelay, tokenExpiry } from "./token.ts";

/** Returns the current token, or nothing for an anonymous connection. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

export class Credentials {
  readonly #refreshMarginMs: number;
  #token: string | undefined;
  #provider: TokenProvider | undefined;
  #stale = false;
  // Set by close 4001: the token the relay refused as expired. Getting it (or none) back from the
  // provider means no fresh token is to be had, and reconnecting would only be refused again.
  #expired: { token: string | undefined } | undefined;

  constructor(
    token: string | undefined,
    provider: TokenProvider | undefined,
    refreshMarginMs: number,
  ) {
    this.#token = token;
    this.#provider = provider;
    this.#refreshMarginMs = refreshMarginMs;
  }

  get token(): string | undefined {
    return this.#token;
  }

  get hasProvider(): boolean {
    return this.#provider !== undefined;
  }

  /** True between close 4001 and a token other than the refused one. */
  get expired(): boolean {
    return this.#expired !== undefined;
  }

  /** Replaces the token; returns false when it is the one held. */
  set(token: string | undefined): boolean {
    if (token === this.#token) return false;
    this.#token = token;
    this.#stale = false;
    if (token !== undefined) this.#expired = undefined;
    return true;
  }

  setProvider(provider: TokenProvider | undefined): void {
    this.#provider = provider;
  }

  /** The relay closed with 4001: the held token is refused, and the provider must be asked. */
  refuse(): void {
    this.#expired = { token: this.#token };
  }

  /** Asks the provider at the next {@link current}, as a refresh before expiry does. */
  markStale(): void {
    this.#stale = true;
  }

  /**
   * The token to use: the held one, or the provider's when none is held, it is stale, refused, or
   * within the refresh margin of its `exp`. Throws what the provider throws.
   */
  async current(): Promise<string | undefined> {
    const provider = this.#provider;
    if (!provider) return this.#token;
    const expiresAt = this.#token === undefined ? undefined : tokenExpiry(this.#token);
    const due =
      this.#token === undefined ||
      this.#stale ||
      this.#expired !== undefined ||
      (expiresAt !== undefined && expiresAt - this.#refreshMarginMs <= Date.now());
    if (!due) return this.#token;
    const token = await provider();
    if (
      token !== undefined &&
      token !== null &&
      (typeof token !== "string" || token.length === 0)
    ) {
      throw new TypeError("getToken must return a non-empty string, null or undefined");
    }
    this.#token = token ?? undefined;
    this.#stale = false;
    return this.#token;
  }

  /**
   * After close 4001: why `token` is no fresher than the refused one (the same, or none), or
   * undefined when it may be tried, which ends the refusal.
   */
  noFresher(token: string | undefined): string | undefined {
    if (!this.#expired) return undefined;
    if (token === undefined) return "getToken() returned none";
    if (token === this.#expired.token) return "getToken() returned the same token";
    this.#expired = undefined;
    return undefined;
  }

  /** Milliseconds until the held JWT should be refreshed, or undefined when it needs no refresh. */
  refreshInMs(): number | undefined {
    if (!this.#provider || this.#token === undefined) return undefined;
    const expiresAt = tokenExpiry(this.#token);
    return expiresAt === undefined
      ? undefined
      : refreshDelay(expiresAt, Date.now(), this.#refreshMarginMs);
  }
}
