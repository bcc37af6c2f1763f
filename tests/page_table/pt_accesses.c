/* Page-table accesses of every form the compiler pass must find, with Linux-like types
 * (tests/page_table/types.conf names them). Not Linux code: written for the test. */
typedef unsigned long pteval_t;
typedef unsigned long pmdval_t;
typedef unsigned long pgdval_t;
typedef struct { pteval_t pte; } pte_t;
typedef struct { pmdval_t pmd; } pmd_t;
typedef struct { pgdval_t pgd; } pgd_t;
typedef struct { long counter; } atomic_long_t;

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

pgd_t kernel_pgd[512];
unsigned long not_a_page_table[16];

void set_pte(pte_t *ptep, pte_t pte) { *ptep = pte; }                    /* store */
pteval_t read_pte(pte_t *ptep) { return ptep->pte; }                      /* load */
void set_pmd_once(pmd_t *pmdp, pmd_t pmd) { WRITE_ONCE(*pmdp, pmd); }     /* volatile store */
pmd_t read_pmd_once(pmd_t *pmdp) { return READ_ONCE(*pmdp); }             /* volatile load */
void clear_young(pte_t *ptep) { ptep->pte &= ~0x20ul; }                   /* read-modify-write: store */

pte_t get_and_clear(pte_t *ptep)                                          /* asm output: store */
{
    long old = 0;
    atomic_long_t *v = (atomic_long_t *)ptep;
    asm volatile("xchgq %0, %1" : "+r"(old), "+m"(v->counter) : : "memory");
    return (pte_t){(pteval_t)old};
}

int cmpxchg_pte(pte_t *ptep, pteval_t old, pteval_t new)                  /* lock-prefixed asm: store */
{
    pteval_t prev;
    asm volatile("lock; cmpxchgq %2, %1" : "=a"(prev), "+m"(ptep->pte) : "r"(new), "0"(old) : "memory");
    return prev == old;
}

static inline int test_and_clear_bit(long nr, volatile unsigned long *addr)
{
    _Bool old;
    asm volatile("btrq %2, %0" : "+m"(*(volatile long *)addr), "=@ccc"(old) : "Ir"(nr) : "memory");
    return old;
}

int test_and_clear_young(pte_t *ptep)                                     /* through a cast pointer: store */
{
    return test_and_clear_bit(5, (unsigned long *)&ptep->pte);
}

void clone_pgd_range(pgd_t *dst, pgd_t *src, int count)                   /* memcpy: store */
{
    __builtin_memcpy(dst, src, count * sizeof(pgd_t));
}

void clear_pgds(int count) { __builtin_memset(kernel_pgd, 0, count * sizeof(pgd_t)); } /* memset: store */

pgdval_t kernel_pgd_entry(int i) { return kernel_pgd[i].pgd; }            /* global array load */

/* Not page-table accesses: must stay unmarked. */
unsigned long plain(unsigned long *p) { return *p + not_a_page_table[3]; }
pteval_t local_only(pteval_t v)
{
    volatile pte_t local = {v};  /* the function's own stack: never a page table */
    return local.pte;
}
