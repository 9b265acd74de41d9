; Print "before exit", then exit with status 3.
        global  _start

        section .rodata
msg:    db      "before exit", 10
len:    equ     $ - msg

        section .text
_start:
        mov     eax, 1                  ; write(1, msg, len)
        mov     edi, 1
        lea     rsi, [rel msg]
        mov     edx, len
        syscall
        mov     eax, 60                 ; exit(3)
        mov     edi, 3
        syscall
