// The channel -> subscribers index and local fan-out. It knows nothing of Redis, HTTP or sockets:
// a member is anything that takes a frame.

/** A subscriber of one channel. */
export interface HubMember<F> {
  /** Hands a frame over; true when it was written at once (not buffered). */
  deliver(frame: F): boolean;
}

interface ChannelEntry<M> {
  readonly all: Set<M>;
  /** The same members grouped by user, for `visibility: user` channels. */
  readonly byUser: Map<string, Set<M>>;
}

const NOBODY: ReadonlySet<never> = new Set();

export class Hub<F, M extends HubMember<F>> {
  readonly #channels = new Map<string, ChannelEntry<M>>();

  /** Adds a member to a channel, filed under `user` when it has one. */
  add(channel: string, member: M, user: string | undefined): void {
    let entry = this.#channels.get(channel);
    if (!entry) this.#channels.set(channel, (entry = { all: new Set(), byUser: new Map() }));
    entry.all.add(member);
    if (user !== undefined) {
      let members = entry.byUser.get(user);
      if (!members) entry.byUser.set(user, (members = new Set()));
      members.add(member);
    }
  }

  /** Removes a member (filed under `user`); returns whether it was there. */
  remove(channel: string, member: M, user: string | undefined): boolean {
    const entry = this.#channels.get(channel);
    if (!entry?.all.delete(member)) return false;
    if (user !== undefined) {
      const members = entry.byUser.get(user);
      if (members?.delete(member) && members.size === 0) entry.byUser.delete(user);
    }
    if (entry.all.size === 0) this.#channels.delete(channel);
    return true;
  }

  /** Moves a member from one user's group to another's (its token changed). */
  refile(channel: string, member: M, from: string | undefined, to: string | undefined): void {
    if (from === to || !this.remove(channel, member, from)) return;
    this.add(channel, member, to);
  }

  has(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** Channels with at least one member. */
  channels(): string[] {
    return [...this.#channels.keys()];
  }

  /** Every member of a channel. */
  members(channel: string): ReadonlySet<M> {
    return this.#channels.get(channel)?.all ?? NOBODY;
  }

  /** Hands `frame` to every member of the channel; returns how many wrote it at once. */
  fanOut(channel: string, frame: F): number {
    const entry = this.#channels.get(channel);
    return entry ? deliverAll(entry.all, frame) : 0;
  }

  /** Hands `frame` to the channel's members of one user only. */
  fanOutToUser(channel: string, user: string, frame: F): number {
    const members = this.#channels.get(channel)?.byUser.get(user);
    return members ? deliverAll(members, frame) : 0;
  }
}

function deliverAll<F>(members: Iterable<HubMember<F>>, frame: F): number {
  let written = 0;
  for (const member of members) if (member.deliver(frame)) written++;
  return written;
}
