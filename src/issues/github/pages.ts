/**
 * Conditional reads of a list, page by page (`Link: rel="next"`): each page is asked with
 * `If-None-Match` set to the ETag it had at the last committed read, and a 304 (free on GitHub's
 * rate limit) answers the items kept with that ETag. ETags are kept per page, not only for the
 * first, because a change on a later page (an old issue closed, a new event at the end) leaves
 * the first page as it was.
 *
 * What a read learned is kept only once it is committed: `read` answers the items, whether any
 * page changed, and `commit()`. The caller commits when it has done what the read was for (the
 * watcher: after every issue of the poll was judged), so a failure in between leaves the last
 * committed ETags — and the next read answers 200 with the same changes again, never a 304 that
 * would hide them.
 */
import { gitHubStatus } from '../errors.ts';
import type { GitHubRepo } from './repo.ts';

interface CachedPage {
  etag: string | undefined;
  items: unknown[];
  next: string | undefined;
}

/** The `rel="next"` URL of a `Link` header. */
export function nextLink(link: string | undefined): string | undefined {
  return link?.split(',').map((part) => /<([^>]+)>\s*;\s*rel="next"/.exec(part)?.[1]).find((url) => url !== undefined);
}

export interface PagesRead<T> {
  /** Every item of every page (a page that answered 304: the items it had). */
  items: T[];
  /** A page answered 200, or the pages are not those of the last committed read. */
  changed: boolean;
  /** Keeps this read's ETags for the next one. */
  commit(): void;
}

/** One list's pages (one first URL at a time): its committed ETags and items. */
export class ConditionalPages {
  #pages = new Map<string, CachedPage>();

  constructor(private readonly github: GitHubRepo) {}

  /** Reads the list from `first` (a path with its query) on. */
  async read<T>(first: string): Promise<PagesRead<T>> {
    const fresh = new Map<string, CachedPage>();
    let changed = !this.#pages.has(first);
    for (let url: string | undefined = first; url !== undefined && !fresh.has(url); ) {
      const cached = this.#pages.get(url);
      let page: CachedPage;
      try {
        const response = await this.github.octokit.request({
          method: 'GET',
          url,
          headers: cached?.etag !== undefined ? { 'if-none-match': cached.etag } : {},
        });
        page = { etag: response.headers.etag, items: Array.isArray(response.data) ? (response.data as unknown[]) : [], next: nextLink(response.headers.link) };
        changed = true;
      } catch (error) {
        if (gitHubStatus(error) !== 304 || cached === undefined) throw error;
        page = cached;
      }
      fresh.set(url, page);
      url = page.next;
    }
    if (fresh.size !== this.#pages.size) changed = true;
    return {
      items: [...fresh.values()].flatMap((page) => page.items) as T[],
      changed,
      commit: () => {
        this.#pages = fresh;
      },
    };
  }

  forget(): void {
    this.#pages.clear();
  }
}

/** Conditional pages of many lists of one kind (each issue's events, say), each read committed at once. */
export class ConditionalLists {
  readonly #lists = new Map<string, ConditionalPages>();

  constructor(
    private readonly github: GitHubRepo,
    /** Lists kept at most; the oldest is forgotten first (it is read in full next time). */
    private readonly max = 1_000,
  ) {}

  async read<T>(first: string): Promise<T[]> {
    let list = this.#lists.get(first);
    if (list === undefined) {
      list = new ConditionalPages(this.github);
      this.#lists.set(first, list);
      while (this.#lists.size > this.max) this.#lists.delete(this.#lists.keys().next().value!);
    }
    const read = await list.read<T>(first);
    read.commit();
    return read.items;
  }

  forget(): void {
    this.#lists.clear();
  }
}
