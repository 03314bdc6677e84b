/* elf_weak_verneed FILE VERSION: sets VER_FLG_WEAK on every version need named VERSION in a
 * 64-bit little-endian ELF shared object, so that the dynamic loader no longer refuses to load it
 * when no library provides that version. patchelf 0.14 (Debian 12) cannot do this itself.
 * Exit status: 0 changed or already weak, 1 error, 2 no such version need. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s FILE VERSION\n", argv[0]); return 1; }
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) { perror(argv[1]); return 1; }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) { fprintf(stderr, "%s: too small\n", argv[1]); return 1; }
  unsigned char *base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) { perror("mmap"); return 1; }
  Elf64_Ehdr *eh = (Elf64_Ehdr *)base;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_ident[EI_DATA] != ELFDATA2LSB) { fprintf(stderr, "%s: not a 64-bit LE ELF file\n", argv[1]); return 1; }
  if (eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > (size_t)st.st_size) { fprintf(stderr, "bad section table\n"); return 1; }
  Elf64_Shdr *sh = (Elf64_Shdr *)(base + eh->e_shoff);
  int found = 0;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_GNU_verneed) continue;
    const char *strtab = (const char *)(base + sh[sh[i].sh_link].sh_offset);
    size_t off = sh[i].sh_offset;
    for (;;) {
      Elf64_Verneed *vn = (Elf64_Verneed *)(base + off);
      size_t aoff = off + vn->vn_aux;
      for (int a = 0; a < vn->vn_cnt; a++) {
        Elf64_Vernaux *vna = (Elf64_Vernaux *)(base + aoff);
        if (strcmp(strtab + vna->vna_name, argv[2]) == 0) { vna->vna_flags |= VER_FLG_WEAK; found = 1; }
        if (vna->vna_next == 0) break;
        aoff += vna->vna_next;
      }
      if (vn->vn_next == 0) break;
      off += vn->vn_next;
    }
  }
  msync(base, st.st_size, MS_SYNC);
  munmap(base, st.st_size);
  close(fd);
  return found ? 0 : 2;
}
