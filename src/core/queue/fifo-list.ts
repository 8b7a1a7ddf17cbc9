// A doubly linked FIFO whose nodes the owner keeps, so removing from the middle is O(1).
// It knows nothing about ids, priorities or fairness; FairQueue builds those on top.

export interface ListNode<T> {
  readonly value: T;
  prev: ListNode<T> | undefined;
  next: ListNode<T> | undefined;
}

export class FifoList<T> {
  #head: ListNode<T> | undefined;
  #tail: ListNode<T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The oldest node, or undefined when empty. */
  get head(): ListNode<T> | undefined {
    return this.#head;
  }

  push(value: T): ListNode<T> {
    const node: ListNode<T> = { value, prev: this.#tail, next: undefined };
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#size++;
    return node;
  }

  /** Links `value` in as the oldest node (a withdrawn eviction puts its victim back where it was). */
  unshift(value: T): ListNode<T> {
    const node: ListNode<T> = { value, prev: undefined, next: this.#head };
    if (this.#head) this.#head.prev = node;
    else this.#tail = node;
    this.#head = node;
    this.#size++;
    return node;
  }

  /** Unlinks a node that belongs to this list (the caller guarantees membership). */
  unlink(node: ListNode<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
    this.#size--;
  }
}
