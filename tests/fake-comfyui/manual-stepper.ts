/**
 * Manual execution mode: the worker parks before each node and before each progress tick after
 * the first, until a test releases it with `POST /__fake/step`. A step answers once the worker
 * has parked again or gone idle, so a test can assert on a settled state.
 */

export interface StepReport {
  /** "waiting": parked before `node`; "idle": nothing left to run. */
  state: "waiting" | "idle";
  prompt_id: string | null;
  node: string | null;
  /** What the worker will do when released: start a node, or run its next progress tick. */
  next: "node" | "tick" | null;
}

export const IDLE_REPORT: StepReport = { state: "idle", prompt_id: null, node: null, next: null };

export class ManualStepper {
  private parked: { report: StepReport; release: () => void } | null = null;
  private settleWaiters: ((report: StepReport) => void)[] = [];

  get isParked(): boolean {
    return this.parked !== null;
  }

  get current(): StepReport | null {
    return this.parked?.report ?? null;
  }

  /** Worker side: wait here until released. */
  park(report: StepReport): Promise<void> {
    return new Promise((resolve) => {
      this.parked = { report, release: resolve };
      this.settled(report);
    });
  }

  /** Worker side: nothing to run. */
  idle(): void {
    this.settled(IDLE_REPORT);
  }

  /** Resolves at the worker's next park or idle. */
  nextSettle(): Promise<StepReport> {
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  release(): boolean {
    const parked = this.parked;
    if (parked === null) return false;
    this.parked = null;
    parked.release();
    return true;
  }

  private settled(report: StepReport): void {
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const waiter of waiters) waiter(report);
  }
}
