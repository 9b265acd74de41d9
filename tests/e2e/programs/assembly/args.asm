; Print "argc=N", then each argument as "[arg]", one per line.
; Linux x86-64 system calls only (no libc). At _start, [rsp] is argc and
; argv[0..argc-1] follow it.
        global  _start

        section .bss
outbuf: resb    4096
numbuf: resb    32

        section .rodata
label:  db      "argc="
lablen: equ     $ - label

        section .text
; r12 = argc - 1, r13 = next argument's index, r14 = bytes in outbuf,
; r15 = &argv[0]
_start:
        mov     r12, [rsp]
        dec     r12
        lea     r15, [rsp + 8]
        xor     r14d, r14d
        lea     r9, [rel label]
        mov     r10d, lablen
.lab:
        mov     al, [r9]
        call    emit
        inc     r9
        dec     r10d
        jnz     .lab
        mov     rax, r12
        call    emit_number
        mov     al, 10
        call    emit
        mov     r13d, 1
.arg:
        cmp     r13, r12
        ja      .done
        mov     al, '['
        call    emit
        mov     r9, [r15 + 8 * r13]
.chr:
        mov     al, [r9]
        test    al, al
        jz      .end
        call    emit
        inc     r9
        jmp     .chr
.end:
        mov     al, ']'
        call    emit
        mov     al, 10
        call    emit
        inc     r13
        jmp     .arg
.done:
        call    flush
        mov     eax, 60                 ; exit(0)
        xor     edi, edi
        syscall

; emit: append the byte in al to outbuf, flushing when it is full.
; Clobbers rax, rcx, rdx, rsi, rdi, r11.
emit:
        lea     rdx, [rel outbuf]
        mov     [rdx + r14], al
        inc     r14
        cmp     r14, 4096
        jb      .done
        call    flush
.done:
        ret

; flush: write outbuf[0, r14) to stdout; exit(1) on a write error.
flush:
        lea     rsi, [rel outbuf]
        mov     rdx, r14
.again:
        test    rdx, rdx
        jz      .done
        mov     eax, 1
        mov     edi, 1
        syscall
        test    rax, rax
        jle     .fail
        add     rsi, rax
        sub     rdx, rax
        jmp     .again
.done:
        xor     r14d, r14d
        ret
.fail:
        mov     eax, 60
        mov     edi, 1
        syscall

; emit_number: emit rax in decimal. Clobbers r8, r9, r10 and what emit does.
emit_number:
        lea     r9, [rel numbuf + 32]
        xor     r10d, r10d
        mov     r8d, 10
.div:
        xor     edx, edx
        div     r8
        add     dl, '0'
        dec     r9
        mov     [r9], dl
        inc     r10d
        test    rax, rax
        jnz     .div
.out:
        mov     al, [r9]
        call    emit
        inc     r9
        dec     r10d
        jnz     .out
        ret
