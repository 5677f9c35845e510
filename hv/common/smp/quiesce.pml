/* SPDX-License-Identifier: Apache-2.0 */
/* Promela model of the SMP quiesce protocol and its NMI handling, checked by spin in quiesce_model_test. */

/*
 * Build with exactly one of
 *   -DFIXED   xhv's protocol (xhv/quiesce.h): quiesce_end clears q_flag,
 *             then raises q_resume; the handler claims the mark with
 *             compare-and-swap and parks with NMIs open (see "The handler");
 *   -DSEED    the seed's protocol, step for step as hv/common/smp/README.md
 *             states it (Q1-Q8, E1-E7, H1-H7; see "The seed's protocol"),
 *             the one the C legacy build runs.
 * Other parameters (cpp macros, spin -D...):
 *   N                 CPUs, 2 or 3 (default 2)
 *   ROUNDS            quiesce rounds each CPU may run, or fewer (default 2)
 *   GUEST_NMIS        guest NMIs the guest NMI source may send (default 2)
 *   RESUMED_FIRST     FIXED, but a parked CPU counts itself resumed before
 *                     it unmarks itself (see park): deadlocks, kept to show
 *                     why not
 *   MERGE_WINDOW      see "NMI delivery"
 *   MERGES_LOSE_NMIS  property 2 in its weaker form (see final_check), the
 *                     one that can hold under MERGE_WINDOW
 *
 * The CPUs. Each CPU is one process. Its own code is a numbered sequence of
 * steps (pc): up to ROUNDS quiesce rounds, then idling. Its NMI handler runs
 * inline in the same process, so while the handler runs nothing else of
 * that CPU does.
 *
 * NMI delivery. Per CPU, nmi_latched is the hardware's single pending-NMI
 * bit and in_nmi is "NMIs blocked" (from taking an NMI up to the IRET that
 * unblocks them). Sending an NMI sets nmi_latched; an NMI sent while the bit
 * is already set merges with the pending one and is gone (nmi_merged counts
 * these). The CPU's own code is a sequence of steps; before each step, and
 * on every turn of each of its spin loops, the CPU may instead take the
 * pending NMI if NMIs are not blocked: clear the bit, set in_nmi, run the
 * handler. While NMIs are blocked a new one only sets the bit. An IRET with
 * the bit set takes that NMI at once (in_nmi stays set): no instruction of
 * the interrupted code runs in between.
 *
 * The handler. If q_flag is 1 and the compare-and-swap of quiesced[p] from
 * 0 to 1 succeeds, the NMI is a quiesce request: the CPU unblocks NMIs (an
 * IRET to itself), then parks (see park); otherwise the NMI is the guest's
 * and is counted in guest_counted[p]. During the park NMIs are not blocked,
 * so an NMI that arrives then is taken at once as a nested NMI, and the
 * handler returns with NMIs unblocked.
 *
 * Hardware takes an NMI that reaches an unblocked CPU at the next
 * instruction boundary, so a second NMI can merge with it only within about
 * one instruction. The model lets a CPU postpone taking a pending NMI across
 * any number of its steps, which would stretch that window without bound,
 * so by default an NMI sender waits until an unblocked target has taken the
 * previous one; merges then happen only while the target has NMIs blocked,
 * which is where they really happen. -DMERGE_WINDOW drops the wait; then a
 * quiesce NMI can merge with a guest NMI that is about to be taken, and the
 * guest NMI is lost to the hardware, whatever the protocol does.
 *
 * The guest NMI source sends only to a CPU whose bit is clear and which has
 * NMIs unblocked, so a guest NMI never lands on a pending NMI.
 *
 * Properties:
 *  1. no invalid end state: every process ends, or waits at an end label
 *     (an idle CPU, the monitor), once the bounded work is done;
 *  2. final_check: every guest NMI sent is counted by exactly one handler
 *     (a quiesce NMI counted as the guest's stands in for a guest NMI that
 *     was taken as a quiesce request). -DMERGES_LOSE_NMIS checks the weaker
 *     form: one guest NMI lost per NMI merged away by the hardware, and no
 *     other loss or double count;
 *  3. callback_monitor: at most one callback at a time, and while it runs
 *     every other CPU is parked in its NMI handler (it may be running a
 *     nested guest NMI handler there).
 */

#if defined(FIXED) == defined(SEED)
#error "define exactly one of FIXED and SEED"
#endif
#ifndef N
#define N 2
#endif
#if N != 2 && N != 3
#error "N must be 2 or 3"
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#ifndef GUEST_NMIS
#define GUEST_NMIS 2
#endif

#define NONE 255

/* The protocol's shared state. */
bit  line_lock;         /* SEED: the log's line lock (Q1, Q8) */
bit  q_lock;
bit  q_flag;
bit  q_resume;
byte q_parked;
byte q_resumed;
bit  quiesced[N];
bit  nmi_latched[N];
bit  in_nmi[N];
byte guest_counted[N];

/* Ghost state for the properties; the protocol never reads it. */
byte guest_sent;        /* guest NMIs sent */
bit  guest_done;        /* the guest NMI source has finished */
byte nmi_merged;        /* NMIs sent while the target's bit was set */
byte n_done;            /* CPUs done with their quiesce rounds */
bit  parked[N];         /* CPU waits for q_resume in its handler */
byte n_parked;          /* number of parked[] set */
byte cb_count;          /* CPUs running a callback */
byte cb_owner = NONE;   /* the CPU running the callback */

/* Can an NMI be sent to CPU c now (see "NMI delivery")? */
#ifdef MERGE_WINDOW
#define SENDABLE(c) true
#else
#define SENDABLE(c) (in_nmi[c] || !nmi_latched[c])
#endif

/* IRET from a handler that ran with NMIs blocked: a latched NMI is taken at
 * once (in_nmi stays set, the handler runs again), else NMIs unblock. */
#define IRET(p) \
  atomic { \
    if \
    :: nmi_latched[p] -> nmi_latched[p] = 0 \
    :: else -> in_nmi[p] = 0; more = 0 \
    fi \
  }

/* The park, once CPU p has won the compare-and-swap on quiesced[p] (NMIs
 * still blocked): unblock NMIs (the real code IRETs to itself), count itself
 * parked, wait for q_resume, unmark itself, count itself resumed. Each step
 * is one atomic Promela step, ps the next one; the parked[] ghost bits
 * change with the steps they describe.
 *
 * Unmark, THEN count resumed: once it is counted, the quiescer may end the
 * round and a next one may NMI this CPU, which takes that NMI nested at
 * once; if it were still marked (-DRESUMED_FIRST, the order of the old
 * handler), the nested CAS would fail, the request would be counted as a
 * guest NMI, and the next quiescer would wait for this CPU to park forever.
 *
 * Nested NMIs. From the unblock on, before any later step, a pending NMI can
 * be taken as a nested NMI, its handler one atomic step:
 *  - while quiesced[p] is 1 (from the CAS up to the unmark) the nested
 *    handler's CAS fails, whatever it read in q_flag, so it counts the NMI
 *    as the guest's and returns; likewise if it reads q_flag == 0;
 *  - between the unmark and the count it can read q_flag == 1 (only in the
 *    seed's ordering: in the fixed one the quiescer cleared q_flag before it
 *    raised q_resume, and cannot start another round before this CPU is
 *    counted) and win the CAS: it parks, nested. All its caller has left
 *    to do is "count resumed, return", however deep the nesting, so the
 *    frames are a counter (owed): the nested park starts over at the
 *    unblock, and each count at ps == 5 ends one frame.
 * Folding a nested handler into one step: apart from reading q_flag, it
 * touches only CPU p's own state (quiesced[p], which only CPU p writes; its
 * latch; in_nmi[p]; guest_counted[p]), so its steps commute with every other
 * process's except an NMI sent to p meanwhile. The first such NMI is latched
 * and taken nested after the nested IRET, as here after the step; a second
 * would merge with it (senders may send to a blocked CPU) where here it
 * waits. No second one exists in the fixed ordering: the guest source never
 * sends to a blocked CPU, and a parked CPU receives at most the current
 * round's quiesce NMI (the next round starts only after its last step).
 * Any counterexample found is a real run: folding only drops interleavings.
 *
 * A nested NMI after the park's last step is taken by the CPU's own loop,
 * after the handler has returned: all that is left of the handler then is
 * its final IRET, a no-op (NMIs are already unblocked), so the two are the
 * same. */
#define NESTED_NMI(p) \
  :: atomic { nmi_latched[p] && !in_nmi[p] -> \
       nmi_latched[p] = 0; \
       if \
       :: quiesced[p] == 1 || q_flag == 0 -> guest_counted[p]++ \
       :: else -> quiesced[p] = 1; in_nmi[p] = 1; owed++; ps = 1 \
       fi }

#ifdef RESUMED_FIRST
#define PARK_END \
  :: atomic { ps == 4 -> q_resumed++; ps = 5 } \
  :: atomic { ps == 5 -> quiesced[p] = 0; ps = 0; more = 0 }; break
#else
#define PARK_END \
  :: atomic { ps == 4 -> quiesced[p] = 0; ps = 5 } \
  :: atomic { ps == 5 && owed > 0 -> q_resumed++; owed-- } \
  :: atomic { ps == 5 && owed == 0 -> q_resumed++; ps = 0; more = 0 }; break
#endif

inline park(p) {
  ps = 1;
  do
  NESTED_NMI(p)
  :: atomic { ps == 1 -> in_nmi[p] = 0; ps = 2 }                /* unblock */
  :: atomic { ps == 2 -> q_parked++; parked[p] = 1; n_parked++; ps = 3 }
  :: atomic { ps == 3 && q_resume == 1 -> parked[p] = 0; n_parked--; ps = 4 }
  PARK_END
  od
}

#ifdef FIXED
/* The NMI handler on CPU p, entered with NMIs blocked (in_nmi[p] set).
 * Reading q_flag and the compare-and-swap are separate steps, as in C. A
 * handler that counts a guest NMI IRETs with NMIs blocked up to then, so a
 * latched NMI runs it again at once; one that parks has unblocked NMIs and
 * taken any nested ones during the park, and returns unblocked (its final
 * IRET is a no-op, see park). */
inline nmi_handler(p) {
  more = 1;
  do
  :: more ->
     if
     :: q_flag == 1 ->
        if
        :: atomic { quiesced[p] == 0 -> quiesced[p] = 1 }     /* CAS succeeds */
           park(p)                                           /* more = 0 */
        :: atomic { quiesced[p] == 1 -> guest_counted[p]++ }  /* CAS fails */
           IRET(p)
        fi
     :: q_flag == 0 -> guest_counted[p]++;
        IRET(p)
     fi
  :: else -> break
  od
}

#else
/* The seed's protocol (SEED): its NMI handler on CPU p, entered with NMIs
 * blocked, and they stay blocked to its end; each Hn one step. H1 reads
 * q_flag: 0, the NMI is the guest's. H2 reads the mark: set, the NMI is
 * dropped (neither parked on nor counted). H3 sets the mark, a step of its
 * own after H2's test. H4 counts itself parked, H5 waits for q_resume, H6
 * counts itself resumed, H7 clears the mark. An NMI sent meanwhile only
 * sets the latch (a second merges); the handler's IRET takes a latched one
 * at once, running the handler again. */
inline nmi_handler(p) {
  more = 1;
  do
  :: more ->
     if
     :: q_flag == 0 -> guest_counted[p]++                     /* H1: the guest's */
     :: q_flag == 1 ->
        if
        :: quiesced[p] == 1 -> skip                            /* H2: dropped */
        :: quiesced[p] == 0 ->
           quiesced[p] = 1;                                    /* H3 */
           atomic { q_parked++; parked[p] = 1; n_parked++ };    /* H4 */
           atomic { q_resume == 1 -> parked[p] = 0; n_parked-- }; /* H5 */
           q_resumed++;                                        /* H6 */
           quiesced[p] = 0                                     /* H7 */
        fi
     fi;
     IRET(p)
  :: else -> break
  od
}

#endif

/* Take the pending NMI, if there is one and NMIs are not blocked. */
#define TAKE_NMI \
  atomic { nmi_latched[p] && !in_nmi[p] -> nmi_latched[p] = 0; in_nmi[p] = 1 }; \
  nmi_handler(p)

/* Step k of CPU p's own code: once its guard g holds, do a and go on to step
 * k + 1. A step whose guard is false is a spin loop. Between any two steps,
 * and while a spin loop waits, the CPU can take a pending NMI. */
#define STEP(k, g, a) :: atomic { pc == k && (g) -> a; pc = k + 1 }

/* Step 6: the quiesce NMIs, one to each other CPU, in any order. */
#define SEND_TO(c) \
  :: atomic { pc == 6 && (todo >> c) & 1 && SENDABLE(c) -> \
       if :: nmi_latched[c] -> nmi_merged++ :: else -> nmi_latched[c] = 1 fi; \
       todo = todo & ~(1 << c); \
       if :: todo == 0 -> pc = 7 :: else -> skip fi }

proctype cpu(byte p) {
  byte pc;    /* next step of the CPU's own code; 0: between rounds */
  byte r;     /* rounds run */
  byte todo;  /* step 6: quiesce NMIs still to send, one bit per CPU */
  bit more;   /* handler: one more NMI to handle */
  byte ps;    /* park: next step; 0 outside the park */
  byte owed;  /* park: nested parks still to return from */

  do
  :: TAKE_NMI
  :: atomic { pc == 0 && r < ROUNDS -> pc = 1 }     /* request a quiesce */
  :: atomic { pc == 0 -> r = 0; break }              /* no more rounds */

#ifdef FIXED
  /* quiesce_begin(p) */
  STEP(1, q_lock == 0, q_lock = 1)
  STEP(2, true, quiesced[p] = 1)
  STEP(3, true, q_parked = 0)
  STEP(4, true, q_resumed = 0)
  STEP(5, true, q_flag = 1; todo = ((1 << N) - 1) & ~(1 << p))
  SEND_TO(0)
  SEND_TO(1)
#if N > 2
  SEND_TO(2)
#endif
  STEP(7, q_parked == N - 1, skip)

  /* the callback */
  STEP(8, true, cb_count++; cb_owner = p)
  STEP(9, true, cb_count--; cb_owner = NONE)

  /* quiesce_end(p) */
  STEP(10, true, q_flag = 0)
  STEP(11, true, q_resume = 1)
  STEP(12, q_resumed == N - 1, skip)
  STEP(13, true, q_resume = 0)
  STEP(14, true, quiesced[p] = 0)
  :: atomic { pc == 15 -> q_lock = 0; r++; pc = 0 }
#else
  /* quiesce (the seed's protocol, README.md): Q1-Q8 */
  STEP(1, line_lock == 0, line_lock = 1)
  STEP(2, q_lock == 0, q_lock = 1)
  STEP(3, true, quiesced[p] = 1)
  STEP(4, true, q_parked = 0)
  STEP(5, true, q_flag = 1; todo = ((1 << N) - 1) & ~(1 << p))
  SEND_TO(0)
  SEND_TO(1)
#if N > 2
  SEND_TO(2)
#endif
  STEP(7, q_parked >= N - 1, skip)
  STEP(8, true, line_lock = 0)

  /* the callback */
  STEP(9, true, cb_count++; cb_owner = p)
  STEP(10, true, cb_count--; cb_owner = NONE)

  /* endquiesce: E1-E7 */
  STEP(11, true, q_resumed = 0)
  STEP(12, true, q_resume = 1)
  STEP(13, q_resumed >= N - 1, skip)
  STEP(14, true, quiesced[p] = 0)
  STEP(15, true, q_flag = 0)
  STEP(16, true, q_resume = 0)
  :: atomic { pc == 17 -> q_lock = 0; r++; pc = 0 }
#endif
  od;
  n_done++;

  /* Nothing left to do but take NMIs (and be parked by other CPUs). */
end_idle:
  do
  :: TAKE_NMI
  od
}

/* Up to GUEST_NMIS guest NMIs, each to any CPU with a clear pending bit that
 * is not in its handler. */
#define GUEST_TO(c) \
  :: atomic { guest_sent < GUEST_NMIS && !nmi_latched[c] && !in_nmi[c] -> \
              nmi_latched[c] = 1; guest_sent++ }

active proctype guest_nmi_source() {
  do
  GUEST_TO(0)
  GUEST_TO(1)
#if N > 2
  GUEST_TO(2)
#endif
  :: break
  od;
  guest_done = 1
}

/* Property 3, in every reachable state: at most one callback runs, and
 * while it runs all N-1 other CPUs are parked in their NMI handlers. */
active proctype callback_monitor() {
end_monitor:
  do
  :: atomic { !(cb_count == 0 ||
                (cb_count == 1 && n_parked == N - 1 && !parked[cb_owner])) ->
              assert(cb_count <= 1);                          /* one callback */
              assert(n_parked == N - 1 && !parked[cb_owner])  /* others parked */
    }
  od
}

#if N == 2
#define NMI_QUIET (!nmi_latched[0] && !nmi_latched[1] && !in_nmi[0] && !in_nmi[1])
#define GUEST_TOTAL (guest_counted[0] + guest_counted[1])
#else
#define NMI_QUIET (!nmi_latched[0] && !nmi_latched[1] && !nmi_latched[2] && \
                   !in_nmi[0] && !in_nmi[1] && !in_nmi[2])
#define GUEST_TOTAL (guest_counted[0] + guest_counted[1] + guest_counted[2])
#endif

/* Property 2, at the end: every CPU done, no NMI pending or in a handler. */
active proctype final_check() {
  atomic {
    n_done == N && guest_done && NMI_QUIET ->
    assert(line_lock == 0 && q_lock == 0 && q_flag == 0 && q_resume == 0 && n_parked == 0);
#ifdef MERGES_LOSE_NMIS
    /* Weaker: exactly one guest NMI lost per NMI merged away by the
     * hardware, and no other loss or double count (in particular no CPU
     * parked twice in a round on a guest NMI). */
    assert(GUEST_TOTAL + nmi_merged == guest_sent)
#else
    /* As stated for the protocol: no guest NMI is ever lost. */
    assert(GUEST_TOTAL == guest_sent)
#endif
  }
}

init {
  byte i;
  atomic {
    do
    :: i < N -> run cpu(i); i++
    :: else -> break
    od
  }
}
