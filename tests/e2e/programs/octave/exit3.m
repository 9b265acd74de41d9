printf("before exit\n");
exit(3);
