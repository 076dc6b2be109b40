// A button opening a menu of actions (Radix UI's DropdownMenu: arrow keys, typeahead, Escape).

import * as DropdownMenu from '@radix-ui/react-dropdown-menu';
import type { JSX } from 'react';

export interface MenuItem {
  text: string;
  onClick: () => void;
  disabled?: boolean;
  danger?: boolean;
}

export function MenuButton({ text, items, align = 'end' }: { text: string; items: (MenuItem | '-')[]; align?: 'start' | 'end' }): JSX.Element {
  return (
    <DropdownMenu.Root modal={false}>
      <DropdownMenu.Trigger asChild>
        <button type="button" className="btn">{text} ▾</button>
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content className="menu" align={align} sideOffset={2}>
          {items.map((item, i) => (item === '-'
            ? <DropdownMenu.Separator key={i} className="menu-separator" />
            : (
              <DropdownMenu.Item key={item.text} className={item.danger ? 'menu-item danger' : 'menu-item'} disabled={item.disabled}
                onSelect={() => item.onClick()}>{item.text}</DropdownMenu.Item>
            )))}
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}
