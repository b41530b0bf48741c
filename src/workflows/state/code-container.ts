/**
 * Code execution: the container of the last answer that ran in one (its id and expiry, carried across
 * runs), and the container the last model call named (a compaction request names the same).
 */
import { now } from '../clock';

export interface ContainerRef {
  id: string;
  expiresAt: string;
}

export class CodeContainer {
  private last: ContainerRef | undefined;
  private named: string | undefined;

  constructor(carried?: ContainerRef) {
    this.last = carried;
  }

  /** The container of the last answer that ran in one. */
  get current(): ContainerRef | undefined {
    return this.last;
  }

  /** The container the last model call of this run named, if any. */
  get lastNamed(): string | undefined {
    return this.named;
  }

  /** The current container, until it expires (workflow time). */
  get live(): string | undefined {
    const last = this.last;
    return last && Date.parse(last.expiresAt) > now().getTime() ? last.id : undefined;
  }

  /** An answer ran in `container`. */
  ranIn(container: ContainerRef): void {
    this.last = container;
  }

  /** A model call names `id` (or none). */
  name(id: string | undefined): void {
    this.named = id;
  }
}
