/* libFuzzer target: ICE signalling between two members (mobile/icesig.c).
 * The input is a script of events for members A (controlling) and B:
 * each may offer or restart (a new agent, a new session), send trickle,
 * or have the next message from the other delivered (in order, as the
 * gateway's TCP connections deliver them). After the script every
 * message still queued is delivered. Invariants: each decision's
 * preconditions hold (an answer is taken only by the offer it answers, a
 * trickle only by its session, glare kept only by the controlling side),
 * and once the queues are empty an agent on either side means both sides
 * are paired, with each other's sessions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_icesig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QMAX 64

struct msg {
	uint32_t session, answers;
	int creds;
};

struct side {
	sp_icesig_agent a;
	struct msg q[QMAX];      /* to the other side */
	size_t head, n;
	uint32_t next_session;
	int controls;            /* A: its key is the lower */
	int dropped;             /* a message did not fit the queue */
};

static void
push(struct side *s, uint32_t session, uint32_t answers, int creds)
{
	if (s->n == QMAX) {
		s->dropped = 1;   /* the gateway drops over its rate: so may we */
		return;
	}
	s->q[(s->head + s->n++) % QMAX] = (struct msg){ session, answers, creds };
}

/* A new agent: a fresh session, and an offer or an answer. */
static void
new_agent(struct side *s, uint32_t answers_session)
{
	s->a.exists = 1;
	s->a.controlling = s->controls;
	s->a.session = ++s->next_session;
	s->a.remote = answers_session;
	push(s, s->a.session, answers_session, 1);
}

/* me receives the next message the other side sent. */
static void
deliver(struct side *from, struct side *me)
{
	struct msg m;

	if (from->n == 0)
		return;
	m = from->q[from->head];
	from->head = (from->head + 1) % QMAX;
	from->n--;
	switch (sp_icesig_decide(&me->a, m.session, m.answers, m.creds)) {
	case SP_ICESIG_TRICKLE:
		if (!me->a.exists || me->a.remote != m.session)
			__builtin_trap();
		break;
	case SP_ICESIG_ANSWERED:
		if (!me->a.exists || me->a.remote != 0 || m.answers != me->a.session || !m.creds)
			__builtin_trap();
		me->a.remote = m.session;
		break;
	case SP_ICESIG_NEW:
		if (me->a.exists || m.answers != 0 || !m.creds)
			__builtin_trap();
		new_agent(me, m.session);
		break;
	case SP_ICESIG_RESTART:
		if (!me->a.exists || m.answers != 0 || !m.creds || me->a.remote == m.session)
			__builtin_trap();
		new_agent(me, m.session);
		break;
	case SP_ICESIG_GLARE_KEEP:
		if (!me->a.exists || me->a.remote != 0 || !me->a.controlling)
			__builtin_trap();
		break;
	case SP_ICESIG_STALE:
		break;
	default:
		__builtin_trap();
	}
}

static int
paired(const struct side *x, const struct side *y)
{
	return x->a.exists && y->a.exists && x->a.remote == y->a.session &&
	    y->a.remote == x->a.session;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.next_session = 0x10000;    /* the two never draw the same session */
	a.controls = 1;
	b.next_session = 0x20000;
	for (size_t i = 0; i < size && i < 4096; i++) {
		switch (data[i] % 6) {
		case 0: new_agent(&a, 0); break;   /* an offer, or a restart */
		case 1: new_agent(&b, 0); break;
		case 2: deliver(&a, &b); break;
		case 3: deliver(&b, &a); break;
		case 4: if (a.a.exists) push(&a, a.a.session, a.a.remote, 0); break;
		case 5: if (b.a.exists) push(&b, b.a.session, b.a.remote, 0); break;
		}
	}
	/* Quiet: everything queued arrives, answers to answers included. */
	for (int rounds = 0; (a.n > 0 || b.n > 0) && rounds < 4 * QMAX; rounds++) {
		deliver(&a, &b);
		deliver(&b, &a);
	}
	if ((a.n > 0 || b.n > 0))
		__builtin_trap();
	if ((a.a.exists || b.a.exists) && !paired(&a, &b)) {
		/* Only a dropped message (a queue that overflowed: an offer or
		 * an answer lost) may leave a side waiting: its agent then times
		 * out, as when the gateway drops over its rate. */
		if (!a.dropped && !b.dropped)
			__builtin_trap();
	}
	return 0;
}
