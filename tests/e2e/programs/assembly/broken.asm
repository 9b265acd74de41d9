; Refers to a symbol that is defined nowhere: nasm refuses it.
        global  _start

        section .text
_start:
        mov     rax, undeclared_symbol_xyz
        mov     eax, 60
        xor     edi, edi
        syscall
