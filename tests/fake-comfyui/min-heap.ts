/**
 * Python's `heapq` on a plain array, step for step (`_siftdown` / `_siftup` as in CPython), so
 * that the raw array order matches what ComfyUI returns in `queue_pending` (finding: it is heap
 * order, not sorted, e.g. `[-21, 20, 19]`).
 */

export type Comparator<T> = (a: T, b: T) => number;

function siftDown<T>(heap: T[], start: number, pos: number, less: Comparator<T>): void {
  const item = heap[pos] as T;
  while (pos > start) {
    const parentPos = (pos - 1) >> 1;
    const parent = heap[parentPos] as T;
    if (less(item, parent) < 0) {
      heap[pos] = parent;
      pos = parentPos;
      continue;
    }
    break;
  }
  heap[pos] = item;
}

function siftUp<T>(heap: T[], pos: number, less: Comparator<T>): void {
  const end = heap.length;
  const start = pos;
  const item = heap[pos] as T;
  let child = 2 * pos + 1;
  while (child < end) {
    const right = child + 1;
    if (right < end && !(less(heap[child] as T, heap[right] as T) < 0)) child = right;
    heap[pos] = heap[child] as T;
    pos = child;
    child = 2 * pos + 1;
  }
  heap[pos] = item;
  siftDown(heap, start, pos, less);
}

export function heapPush<T>(heap: T[], item: T, less: Comparator<T>): void {
  heap.push(item);
  siftDown(heap, 0, heap.length - 1, less);
}

export function heapPop<T>(heap: T[], less: Comparator<T>): T | undefined {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return last;
  const top = heap[0] as T;
  heap[0] = last;
  siftUp(heap, 0, less);
  return top;
}

export function heapify<T>(heap: T[], less: Comparator<T>): void {
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftUp(heap, i, less);
}
