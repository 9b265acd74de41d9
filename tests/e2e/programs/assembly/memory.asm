; Maps 1 MB of anonymous memory at a time and writes to each of its pages,
; without end (no mapping is ever released).
        global  _start

        section .text
_start:
        mov     eax, 9                  ; mmap(NULL, 1 MB, RW, PRIVATE|ANONYMOUS, -1, 0)
        xor     edi, edi
        mov     esi, 1 << 20
        mov     edx, 3                  ; PROT_READ | PROT_WRITE
        mov     r10d, 0x22              ; MAP_PRIVATE | MAP_ANONYMOUS
        mov     r8, -1
        xor     r9d, r9d
        syscall
        cmp     rax, -4096
        ja      .fail                   ; -errno
        xor     ecx, ecx
.touch:
        mov     byte [rax + rcx], 1
        add     ecx, 4096
        cmp     ecx, 1 << 20
        jb      .touch
        jmp     _start
.fail:
        mov     eax, 60                 ; exit(1)
        mov     edi, 1
        syscall
