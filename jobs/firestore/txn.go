package firestore

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"cloud.google.com/go/firestore"

	"omtx/jobs"
)

// txn is the state of one attempt of a transaction: the documents it read,
// changed in memory, and written back together by flush. Firestore wants
// every read before the first write, so nothing is written before flush
// and reads may happen in any order until then. A retried transaction
// function makes a new txn.
type txn struct {
	s   *Store
	ctx context.Context
	tx  *firestore.Transaction
	now int64

	jobs    map[string]*jobState
	parents map[string]*parentState
	users   map[string]*userState
	changes []changeWrite
	results []resultWrite
	keys    []keyWrite
	// freed are idempotency keys released by jobs deleted here.
	freed []*firestore.DocumentRef
	// ended lists the batches some of whose children ended here, with
	// their number of shards; their milestones are checked after the
	// commit.
	ended map[string]int
}

type jobState struct {
	id    string
	ref   *firestore.DocumentRef
	doc   jobDoc
	dirty bool
}

type parentState struct {
	jobState
	shards map[int]*shardState
	// touched: some child of the batch changed status here.
	touched bool
	// settle: check whether the batch has ended even if no touched shard
	// emptied (the last step of a sweep).
	settle bool
}

type shardState struct {
	ref   *firestore.DocumentRef
	doc   shardDoc
	dirty bool
}

type userState struct {
	id    string
	ref   *firestore.DocumentRef
	doc   userDoc
	dirty bool
}

type changeWrite struct {
	ref *firestore.DocumentRef
	doc changeDoc
}

type resultWrite struct {
	ref *firestore.DocumentRef
	doc resultDoc
}

func (s *Store) newTxn(ctx context.Context, tx *firestore.Transaction) *txn {
	return &txn{s: s, ctx: ctx, tx: tx, now: s.now(), jobs: map[string]*jobState{},
		parents: map[string]*parentState{}, users: map[string]*userState{}, ended: map[string]int{}}
}

// job reads a job (a child or an individual job; parents go through
// parent). It answers ErrNotFound when there is none.
func (t *txn) job(id string) (*jobState, error) {
	if j, ok := t.jobs[id]; ok {
		return j, nil
	}
	if p, ok := t.parents[id]; ok {
		return &p.jobState, nil
	}
	if !validID(id) {
		return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
	}
	snap, err := t.tx.Get(t.s.jobRef(id))
	if isNotFound(err) {
		return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return t.addJob(snap)
}

// addJob registers a document the transaction read (by a query, say); a
// document it read before keeps its state in memory.
func (t *txn) addJob(snap *firestore.DocumentSnapshot) (*jobState, error) {
	id := snap.Ref.ID
	if j, ok := t.jobs[id]; ok {
		return j, nil
	}
	if p, ok := t.parents[id]; ok {
		return &p.jobState, nil
	}
	var d jobDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", id, err)
	}
	if d.isParent() {
		p := &parentState{jobState: jobState{id: id, ref: snap.Ref, doc: d}, shards: map[int]*shardState{}}
		t.parents[id] = p
		return &p.jobState, nil
	}
	j := &jobState{id: id, ref: snap.Ref, doc: d}
	t.jobs[id] = j
	return j, nil
}

// parent reads a batch parent. It answers ErrNotFound when there is none.
func (t *txn) parent(id string) (*parentState, error) {
	if p, ok := t.parents[id]; ok {
		return p, nil
	}
	if _, err := t.job(id); err != nil {
		return nil, err
	}
	p, ok := t.parents[id]
	if !ok {
		return nil, jobs.Errorf(jobs.ErrNotFound, "batch %s not found", id)
	}
	return p, nil
}

// userBatch reads a visible batch parent of userID.
func (t *txn) userBatch(userID, id string) (*parentState, error) {
	p, err := t.parent(id)
	if err != nil || p.doc.UserID != userID || !p.doc.visible() {
		if err == nil || jobs.IsCode(err, jobs.ErrNotFound) {
			return nil, jobs.Errorf(jobs.ErrNotFound, "batch %s not found", id)
		}
		return nil, err
	}
	return p, nil
}

// parentOf reads the parent of a child.
func (t *txn) parentOf(j *jobState) (*parentState, error) {
	p, err := t.parent(j.doc.BatchID)
	if err != nil {
		return nil, fmt.Errorf("parent of %s: %w", j.id, err)
	}
	return p, nil
}

// shard reads shard k of a batch's progress.
func (t *txn) shard(p *parentState, k int) (*shardState, error) {
	if sh, ok := p.shards[k]; ok {
		return sh, nil
	}
	ref := t.s.shardRef(p.id, k)
	snap, err := t.tx.Get(ref)
	sh := &shardState{ref: ref}
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read progress of %s: %w", p.id, err)
	default:
		if err := snap.DataTo(&sh.doc); err != nil {
			return nil, fmt.Errorf("decode progress of %s: %w", p.id, err)
		}
	}
	p.shards[k] = sh
	return sh, nil
}

// allShards reads every shard of a batch not read yet, in one call.
func (t *txn) allShards(p *parentState) error {
	var refs []*firestore.DocumentRef
	var ks []int
	for k := 0; k < int(p.doc.Shards); k++ {
		if _, ok := p.shards[k]; !ok {
			refs = append(refs, t.s.shardRef(p.id, k))
			ks = append(ks, k)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	snaps, err := t.tx.GetAll(refs)
	if err != nil {
		return fmt.Errorf("read progress of %s: %w", p.id, err)
	}
	for i, snap := range snaps {
		sh := &shardState{ref: refs[i]}
		if snap.Exists() {
			if err := snap.DataTo(&sh.doc); err != nil {
				return fmt.Errorf("decode progress of %s: %w", p.id, err)
			}
		}
		p.shards[ks[i]] = sh
	}
	return nil
}

// progress sums a batch's shards (all of them must have been read).
func (p *parentState) progress() jobs.Progress {
	docs := make([]shardDoc, 0, len(p.shards))
	for _, sh := range p.shards {
		docs = append(docs, sh.doc)
	}
	return sumShards(docs)
}

// user reads a user's queue entry; a user with none gets a new one.
func (t *txn) user(userID string) (*userState, error) {
	if u, ok := t.users[userID]; ok {
		return u, nil
	}
	ref := t.s.userRef(userID)
	u := &userState{id: userID, ref: ref, doc: userDoc{UserID: userID}}
	snap, err := t.tx.Get(ref)
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read user %s: %w", userID, err)
	default:
		if err := snap.DataTo(&u.doc); err != nil {
			return nil, fmt.Errorf("decode user %s: %w", userID, err)
		}
	}
	t.users[userID] = u
	return u, nil
}

// record appends a change to the user's feed.
func (t *txn) record(userID, jobID, batchID string, typ jobs.Type, st jobs.Status) error {
	u, err := t.user(userID)
	if err != nil {
		return err
	}
	u.doc.Seq++
	u.dirty = true
	t.changes = append(t.changes, changeWrite{ref: t.s.changesCol(userID).NewDoc(), doc: changeDoc{
		Seq: u.doc.Seq, UserID: userID, JobID: jobID, BatchID: batchID, Type: string(typ), Status: string(st), At: t.now}})
	return nil
}

// addUserCounts moves a user's pending and running counts.
func (t *txn) addUserCounts(userID string, pending, running int64) error {
	if pending == 0 && running == 0 {
		return nil
	}
	u, err := t.user(userID)
	if err != nil {
		return err
	}
	u.doc.Pending += pending
	u.doc.Running += running
	u.dirty = true
	return nil
}

// setStatus moves one job out of pending or running (not to running: see
// leaseJob), clearing its lease, keeps its parent's progress and its
// user's queue in step, and records the change.
func (t *txn) setStatus(j *jobState, to jobs.Status, errMsg string, result []byte) error {
	return t.setStatusOpt(j, to, errMsg, result, true)
}

func (t *txn) setStatusOpt(j *jobState, to jobs.Status, errMsg string, result []byte, record bool) error {
	from := j.doc.status()
	if err := jobs.CheckTransition(j.id, from, to); err != nil {
		return err
	}
	d := &j.doc
	d.Status = string(to)
	d.LeaseOwner, d.LeaseExpiresAt, d.CancelRequested = "", 0, false
	d.FinishedAt = 0
	if to.Final() {
		d.FinishedAt = t.now
	}
	if errMsg != "" {
		d.Error = errMsg
	}
	if result != nil {
		d.Result = result
	}
	d.UpdatedAt = t.now
	j.dirty = true
	var pending, running int64
	switch from {
	case jobs.StatusPending:
		pending--
	case jobs.StatusRunning:
		running--
	}
	if to == jobs.StatusPending {
		pending++
	}
	if err := t.addUserCounts(d.UserID, pending, running); err != nil {
		return err
	}
	if record {
		if err := t.record(d.UserID, j.id, d.BatchID, jobs.Type(d.Type), to); err != nil {
			return err
		}
	}
	if d.isChild() {
		return t.moveChild(j, from, to)
	}
	return nil
}

// leaseJob hands a pending job to owner until expires; served orders the
// user and the batch among those waiting (see JobLease).
func (t *txn) leaseJob(j *jobState, owner string, expires, served int64) error {
	if err := jobs.CheckTransition(j.id, j.doc.status(), jobs.StatusRunning); err != nil {
		return err
	}
	d := &j.doc
	d.Status = string(jobs.StatusRunning)
	d.Attempt++
	d.LeaseOwner, d.LeaseExpiresAt = owner, expires
	if d.StartedAt == 0 {
		d.StartedAt = t.now
	}
	d.UpdatedAt = t.now
	j.dirty = true
	u, err := t.user(d.UserID)
	if err != nil {
		return err
	}
	u.doc.Pending--
	u.doc.Running++
	u.doc.Served = max(u.doc.Served, served)
	if d.isChild() {
		u.doc.serveBatch(d.BatchID, served)
	}
	u.dirty = true
	if err := t.record(d.UserID, j.id, d.BatchID, jobs.Type(d.Type), jobs.StatusRunning); err != nil {
		return err
	}
	if d.isChild() {
		return t.moveChild(j, jobs.StatusPending, jobs.StatusRunning)
	}
	return nil
}

// moveChild records in the batch's progress that child j went from one
// status to another; the first child leased starts the batch.
func (t *txn) moveChild(j *jobState, from, to jobs.Status) error {
	p, err := t.parentOf(j)
	if err != nil {
		return err
	}
	return t.moveChildren(p, int(j.doc.Index), from, to, 1)
}

// moveChildren moves n children of shard idx % shards in the batch's
// progress. Whether the batch has ended is decided at flush.
func (t *txn) moveChildren(p *parentState, idx int, from, to jobs.Status, n int64) error {
	if n == 0 {
		return nil
	}
	sh, err := t.shard(p, idx%int(max(p.doc.Shards, 1)))
	if err != nil {
		return err
	}
	*sh.doc.count(from) -= n
	*sh.doc.count(to) += n
	sh.dirty = true
	p.touched = true
	if to.Final() {
		t.ended[p.id] = int(p.doc.Shards)
	}
	if p.doc.Status == string(jobs.StatusPending) && to == jobs.StatusRunning {
		p.doc.Status = string(jobs.StatusRunning)
		p.doc.StartedAt = t.now
		p.doc.UpdatedAt = t.now
		p.dirty = true
		return t.record(p.doc.UserID, p.id, p.id, jobs.TypeBatchParent, jobs.StatusRunning)
	}
	return nil
}

// settle ends the batches whose last open child ended here: final status,
// finalize task pending, pause lifted. Only when every shard it touched
// has nothing open does it read the other shards. A batch under a sweep
// ends when the sweep is over.
func (t *txn) settle() error {
	ids := make([]string, 0, len(t.parents))
	for id := range t.parents {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the same reads in the same order on every attempt
	for _, id := range ids {
		p := t.parents[id]
		if !(p.touched || p.settle) || p.doc.status().Final() || p.doc.Sweep != "" || !p.doc.visible() {
			continue
		}
		emptied := true
		for _, sh := range p.shards {
			if sh.dirty && sh.doc.open() > 0 {
				emptied = false
			}
		}
		if !emptied {
			continue
		}
		if err := t.allShards(p); err != nil {
			return err
		}
		prog := p.progress()
		if prog.Pending+prog.Running > 0 {
			continue
		}
		if err := t.endBatch(p, prog); err != nil {
			return err
		}
	}
	return nil
}

// endBatch gives a batch whose children all ended its final status.
func (t *txn) endBatch(p *parentState, prog jobs.Progress) error {
	st := jobs.FinalStatus(prog, p.doc.CancelRequested)
	prev := p.doc.status()
	d := &p.doc
	d.Status, d.FinishedAt, d.Finalize, d.Paused, d.UpdatedAt = string(st), t.now, string(jobs.FinalizePending), false, t.now
	for _, m := range missingMilestones(d, prog) {
		if d.Milestones == nil {
			d.Milestones = map[string]int64{}
		}
		d.Milestones[strconv.Itoa(m)] = t.now
	}
	p.dirty = true
	u, err := t.user(d.UserID)
	if err != nil {
		return err
	}
	if _, ok := u.doc.BatchServed[p.id]; ok {
		delete(u.doc.BatchServed, p.id)
		u.dirty = true
	}
	if st != prev {
		return t.record(d.UserID, p.id, p.id, jobs.TypeBatchParent, st)
	}
	return nil
}

// flush settles the batches and writes everything changed.
func (t *txn) flush() error {
	if err := t.settle(); err != nil {
		return err
	}
	var err error
	set := func(ref *firestore.DocumentRef, v any) {
		if err == nil {
			err = t.tx.Set(ref, v)
		}
	}
	for _, j := range t.jobs {
		if j.dirty {
			set(j.ref, &j.doc)
		}
	}
	for _, p := range t.parents {
		for _, sh := range p.shards {
			if sh.dirty {
				set(sh.ref, &sh.doc)
			}
		}
		if p.dirty {
			p.doc.Open = p.doc.visible() && !p.doc.status().Final() && !p.doc.Paused && !p.doc.CancelRequested
			set(p.ref, &p.doc)
		}
	}
	for _, u := range t.users {
		if u.dirty {
			u.doc.derive()
			set(u.ref, &u.doc)
		}
	}
	for _, r := range t.results {
		set(r.ref, &r.doc)
	}
	for _, k := range t.keys {
		set(k.ref, &k.doc)
	}
	for _, ref := range t.freed {
		if err == nil {
			err = t.tx.Delete(ref)
		}
	}
	for _, c := range t.changes {
		if err == nil {
			err = t.tx.Create(c.ref, &c.doc)
		}
	}
	return err
}

// after runs what follows a committed transaction: milestones of the
// batches whose children ended. The change itself has committed, so a
// failure here is logged, not returned: the milestone is recorded when the
// next child of the batch ends (and a batch's end records all it missed).
func (s *Store) after(ctx context.Context, t *txn) {
	if t == nil {
		return
	}
	for id, shards := range t.ended {
		if err := s.recordMilestones(ctx, id, shards, t.now); err != nil {
			s.opts.Log.Warn("firestore: batch milestones not recorded", "batch", id, "err", err)
		}
	}
}

// update runs fn in a transaction on userID's records with a fresh txn
// per attempt, flushes it, and after the commit records the milestones it
// crossed.
func (s *Store) update(ctx context.Context, userID string, fn func(t *txn) error) error {
	defer s.lockUser(userID)()
	var last *txn
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		t := s.newTxn(ctx, tx)
		last = nil
		if err := fn(t); err != nil {
			return err
		}
		last = t
		return t.flush()
	})
	if err != nil {
		return err
	}
	s.after(ctx, last)
	return nil
}
